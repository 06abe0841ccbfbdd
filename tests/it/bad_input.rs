//! What bad input gets (PRODUCT.md §6): a clear message, nothing stored, and
//! never a 500.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use anyhow::Context;
use reqwest::{Client, Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{
    HOME, OWNER_EMAIL, PASSWORD, TestApp, TestResult, browser, browser_from, header_str, location,
    parse_raw_response, raw_request, spawn_app,
};
use crate::html;

const MEGABYTE: usize = 1024 * 1024;
/// For raw-socket tests of oversized bodies. Loopback socket buffers swallow
/// a megabyte or so whole, which hides a server that answers without reading
/// the body and then resets the connection; 8 MB does not fit.
const RAW_OVERSIZED: usize = 8 * MEGABYTE;

/// A client from an address of its own, so that sign-in throttling (per
/// client IP) does not hide what a request would otherwise do.
fn fresh_browser() -> Client {
    static NEXT: AtomicU8 = AtomicU8::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    browser_from(IpAddr::V4(Ipv4Addr::new(127, 0, 1, n.max(1))))
}

/// Asserts that a response is not a server error and, when it is a page, that
/// it is a whole HTML page.
async fn assert_handled(what: &str, res: reqwest::Response) -> anyhow::Result<StatusCode> {
    let status = res.status();
    assert!(!status.is_server_error(), "{what}: {status}");
    let is_html =
        header_str(res.headers(), "content-type").is_some_and(|ct| ct.starts_with("text/html"));
    let body = res.text().await.with_context(|| format!("{what}: body"))?;
    if is_html && !what.contains("HEAD ") {
        assert!(body.contains("</html>"), "{what}: truncated page");
        assert!(
            !body.contains("Something went wrong on our side"),
            "{what}: internal error page"
        );
    }
    Ok(status)
}

#[tokio::test]
async fn empty_email_or_password_gets_a_message() -> TestResult {
    let app = spawn_app().await?;
    for (email, password) in [
        ("", ""),
        ("", PASSWORD),
        (OWNER_EMAIL, ""),
        ("   ", PASSWORD),
        ("not-an-email", PASSWORD),
    ] {
        let client = fresh_browser();
        let res = app.attempt_sign_in(&client, email, password).await?;
        let status = res.status();
        assert!(status.is_client_error(), "{email:?}/{password:?}: {status}");
        let body = res.text().await?;
        assert_eq!(html::h1_texts(&body), ["Sign in"], "the sign-in page again");
        let alerts = html::elements_with(&body, "div", "role", "alert");
        assert_eq!(alerts.len(), 1, "{email:?}/{password:?}: {body}");
        assert!(!alerts[0].text().is_empty());
        assert!(!app.is_signed_in(&client).await?);
    }
    // Fields missing altogether.
    let client = fresh_browser();
    let csrf = app.login_csrf(&client).await?;
    let res = client
        .post(app.url("/login"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await?;
    assert!(res.status().is_client_error(), "{}", res.status());
    let body = res.text().await?;
    assert_eq!(html::elements_with(&body, "div", "role", "alert").len(), 1);
    Ok(())
}

#[tokio::test]
async fn oversized_sign_in_form_gets_413() -> TestResult {
    let app = spawn_app().await?;
    let huge = "a".repeat(MEGABYTE);
    let huge_email = format!("{huge}@x.io");
    for (email, password) in [
        (huge_email.as_str(), PASSWORD),
        (OWNER_EMAIL, huge.as_str()),
    ] {
        let client = browser();
        let csrf = app.login_csrf(&client).await?;
        let res = app
            .post_login(&client, &csrf, email, password, None)
            .await
            .context("the client must receive the 413, not a connection reset")?;
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body = res.text().await?;
        assert_eq!(html::h1_texts(&body), ["That was too much to send"]);
        assert!(!app.is_signed_in(&client).await?);
    }
    // Also for a signed-in member's form, and the server is fine afterwards.
    let client = browser();
    let csrf = app.sign_in(&client, OWNER_EMAIL).await?;
    let res = client
        .post(app.url("/logout"))
        .form(&[("csrf_token", csrf.as_str()), ("filler", huge.as_str())])
        .send()
        .await
        .context("the client must receive the 413, not a connection reset")?;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(app.is_signed_in(&client).await?, "nothing changed");
    Ok(())
}

#[tokio::test]
async fn body_just_under_the_limit_is_read() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    let csrf = app.login_csrf(&client).await?;
    // About 60 KiB: under the 64 KiB limit, so a normal (failed) sign-in.
    let long = "a".repeat(60 * 1024);
    let res = app
        .post_login(&client, &csrf, OWNER_EMAIL, &long, None)
        .await?;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body = res.text().await?;
    assert!(body.contains("Invalid email or password"));
    assert!(!body.contains(&long));
    Ok(())
}

/// A 1 MB form sent in chunks (no Content-Length), as a streaming client
/// would: the client must still read the 413.
#[tokio::test]
async fn oversized_chunked_form_gets_413() -> TestResult {
    let app = spawn_app().await?;
    let stream = TcpStream::connect(app.addr).await?;
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Transfer-Encoding: chunked\r\n\r\n",
        app.addr
    );
    let sender = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        let mut chunk = b"email=".to_vec();
        chunk.resize(64 * 1024, b'a');
        for _ in 0..16 {
            writer
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            writer.write_all(&chunk).await?;
            writer.write_all(b"\r\n").await?;
            chunk.fill(b'a');
        }
        writer.write_all(b"0\r\n\r\n").await?;
        writer.flush().await?;
        Ok::<_, std::io::Error>(writer)
    });
    let mut received = Vec::new();
    let mut buf = [0u8; 8192];
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match reader.read(&mut buf).await {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    received.extend_from_slice(&buf[..n]);
                    if received.windows(4).any(|w| w == b"\r\n\r\n") {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e),
            }
        }
    })
    .await
    .context("timed out waiting for the response")?;
    sender.abort();
    read.with_context(|| format!("reading the response failed after {} bytes", received.len()))?;
    let res = parse_raw_response(&received)?;
    assert_eq!(res.status, 413, "{}", res.head);
    Ok(())
}

/// Sends a whole request, body included, before reading anything back, as
/// simple clients do; returns the response the client then reads.
async fn send_all_then_read(
    addr: std::net::SocketAddr,
    head: &str,
    body: &[u8],
) -> anyhow::Result<crate::helpers::RawResponse> {
    let mut stream = TcpStream::connect(addr).await?;
    let sent = tokio::time::timeout(Duration::from_secs(30), async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        stream.flush().await
    })
    .await
    .context("timed out sending the body")?;
    sent.context("the server reset the connection while the body was being sent")?;
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut received))
        .await
        .context("timed out reading the response")?
        .with_context(|| {
            format!(
                "the server reset the connection instead of answering ({} bytes read)",
                received.len()
            )
        })?;
    parse_raw_response(&received)
}

fn oversized_form_body() -> Vec<u8> {
    let mut body = b"email=".to_vec();
    body.resize(RAW_OVERSIZED, b'a');
    body.extend_from_slice(b"&password=x");
    body
}

#[tokio::test]
async fn oversized_form_sent_in_full_before_reading_gets_413() -> TestResult {
    let app = spawn_app().await?;
    let body = oversized_form_body();
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        app.addr,
        body.len()
    );
    let res = send_all_then_read(app.addr, &head, &body).await?;
    assert_eq!(res.status, 413, "{}", res.head);
    Ok(())
}

#[tokio::test]
async fn oversized_chunked_form_sent_in_full_before_reading_gets_413() -> TestResult {
    let app = spawn_app().await?;
    let body = oversized_form_body();
    let mut chunked = Vec::with_capacity(body.len() + 1024);
    for chunk in body.chunks(64 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        app.addr
    );
    let res = send_all_then_read(app.addr, &head, &chunked).await?;
    assert_eq!(res.status, 413, "{}", res.head);
    Ok(())
}

#[tokio::test]
async fn non_utf8_form_bytes_never_500() -> TestResult {
    let app = spawn_app().await?;
    let bodies: Vec<Vec<u8>> = vec![
        b"email=%FF%FE&password=%C3%28&csrf_token={csrf}".to_vec(),
        b"email=\xFF\xFE&password=\xC3\x28&csrf_token={csrf}".to_vec(),
        b"csrf_token={csrf}&email=\xFF&password=\xFF".to_vec(),
        b"csrf_token={csrf}&\xFF=\xFF".to_vec(),
        b"csrf_token={csrf}&next=%FF%2F&email=a@b.c&password=x".to_vec(),
        b"csrf_token={csrf}&next=/\xFF&email=a@b.c&password=x".to_vec(),
        b"csrf_token={csrf}&email=%00%00@x.io&password=%00".to_vec(),
        b"csrf_token={csrf}&email=%ED%A0%80@x.io&password=x".to_vec(),
        b"\xFF\xFE\xFD".to_vec(),
    ];
    for body in bodies {
        let client = fresh_browser();
        let csrf = app.login_csrf(&client).await?;
        let body = replace_bytes(&body, b"{csrf}", csrf.as_bytes());
        let what = format!("POST /login {:?}", String::from_utf8_lossy(&body));
        let res = client
            .post(app.url("/login"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await?;
        let status = assert_handled(&what, res).await?;
        assert_ne!(status, StatusCode::SEE_OTHER, "{what}: signed in?");
        assert!(!app.is_signed_in(&client).await?, "{what}");
    }
    Ok(())
}

fn replace_bytes(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

#[tokio::test]
async fn unknown_route_is_a_404_page() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    let signed_in = browser();
    app.sign_in(&signed_in, OWNER_EMAIL).await?;
    for who in [&client, &signed_in] {
        for path in [
            "/nope",
            "/settings",
            "/settings/authorization/nope",
            "/settings/tokens",
            "/login/x",
            "/%FF",
            "/a%00b",
            "/.env",
        ] {
            let res = app.get(who, path).await?;
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
            assert!(
                header_str(res.headers(), "content-type")
                    .is_some_and(|ct| ct.starts_with("text/html")),
                "{path}: an HTML page"
            );
            let body = res.text().await?;
            assert_eq!(html::h1_texts(&body), ["Page not found"], "{path}");
            assert!(body.contains("Skip to main content"), "{path}: full layout");
        }
    }
    Ok(())
}

#[tokio::test]
async fn wrong_method_is_405() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    let csrf = app.sign_in(&client, OWNER_EMAIL).await?;
    for (method, path) in [
        (Method::DELETE, "/login"),
        (Method::PUT, "/login"),
        (Method::POST, "/healthz"),
        (Method::DELETE, "/healthz"),
        (Method::PUT, HOME),
        (Method::POST, HOME),
        (Method::DELETE, "/settings/audit"),
        (Method::GET, "/logout"),
        (Method::PATCH, "/logout"),
        (Method::POST, "/static/app.css"),
    ] {
        let res = client
            .request(method.clone(), app.url(path))
            .header("X-CSRF-Token", &csrf)
            .send()
            .await?;
        assert_eq!(
            res.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        let allow = header_str(res.headers(), "allow").unwrap_or_default();
        assert!(!allow.is_empty(), "{method} {path}: 405 without Allow");
        assert!(
            !allow.contains(method.as_str()),
            "{method} {path}: Allow {allow}"
        );
        let body = res.text().await?;
        assert_eq!(
            html::h1_texts(&body),
            ["That action is not available here"],
            "{method} {path}"
        );
    }
    assert!(app.is_signed_in(&client).await?, "nothing signed out");
    Ok(())
}

#[tokio::test]
async fn malformed_audit_queries_never_500() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    app.sign_in(&client, OWNER_EMAIL).await?;
    for query in [
        "page=abc",
        "page=-1",
        "page=0",
        "page=99999999999999999999",
        "page=9223372036854775807",
        "page=-9223372036854775808",
        "page=184467440737095516",
        "page=1e3",
        "page=1.5",
        "page=%FF",
        "page=%00",
        "page=",
        "page",
        "page=1&page=2",
        "page[]=1",
        "page=%",
        "%%%",
        "=",
        "&&&",
        "page=+1",
        "page=%2B1",
        "page=1%20",
        "page=\u{663}",
    ] {
        let path = format!("/settings/audit?{query}");
        let res = app.get(&client, &path).await?;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let body = res.text().await?;
        assert_eq!(html::h1_texts(&body), ["Audit log"], "{path}");
    }
    Ok(())
}

/// One request of the "never 500" sweep.
struct Probe {
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    headers: Vec<(&'static str, Vec<u8>)>,
}

fn probe(method: Method, path: &str) -> Probe {
    Probe {
        method,
        path: path.to_string(),
        content_type: None,
        body: Vec::new(),
        headers: Vec::new(),
    }
}

impl Probe {
    fn form(mut self, body: &[u8]) -> Self {
        self.content_type = Some("application/x-www-form-urlencoded");
        self.body = body.to_vec();
        self
    }

    fn typed(mut self, content_type: &'static str, body: &[u8]) -> Self {
        self.content_type = Some(content_type);
        self.body = body.to_vec();
        self
    }

    fn body(mut self, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self
    }

    fn header(mut self, name: &'static str, value: &[u8]) -> Self {
        self.headers.push((name, value.to_vec()));
        self
    }

    async fn send(
        &self,
        app: &TestApp,
        client: &Client,
        csrf: &str,
    ) -> anyhow::Result<reqwest::Response> {
        let mut req = client.request(self.method.clone(), app.url(&self.path));
        if let Some(ct) = self.content_type {
            req = req.header("Content-Type", ct);
        }
        for (name, value) in &self.headers {
            let value = replace_bytes(value, b"{csrf}", csrf.as_bytes());
            req = req.header(*name, reqwest::header::HeaderValue::from_bytes(&value)?);
        }
        if !self.body.is_empty() {
            req = req.body(replace_bytes(&self.body, b"{csrf}", csrf.as_bytes()));
        }
        Ok(req.send().await?)
    }
}

#[tokio::test]
async fn no_request_produces_a_500() -> TestResult {
    let app = spawn_app().await?;
    let long = "x".repeat(5000);
    let long_next = format!("csrf_token={{csrf}}&email=a@b.c&password=x&next=/{long}");
    let long_query = format!("/login?next=/{long}");
    let probes = vec![
        // Sign-in page queries.
        probe(Method::GET, "/login?next=%FF"),
        probe(Method::GET, "/login?next=%00"),
        probe(Method::GET, "/login?next=javascript:alert(1)"),
        probe(Method::GET, "/login?next=%0d%0aSet-Cookie:%20x=y"),
        probe(Method::GET, "/login?next=&next=/a"),
        probe(Method::GET, "/login?signed_out"),
        probe(Method::GET, "/login?signed_out=%FF&next[]=1"),
        probe(Method::GET, "/login?%%%"),
        probe(Method::GET, &long_query),
        probe(Method::GET, "/?x=%FF"),
        probe(Method::HEAD, "/login"),
        probe(Method::OPTIONS, "/login"),
        probe(
            Method::GET,
            "/settings/authorization?page=-1&role=%FF&q=%00",
        ),
        // Sign-in form bodies.
        probe(Method::POST, "/login").form(b""),
        probe(Method::POST, "/login").form(b"="),
        probe(Method::POST, "/login").form(b"&&&"),
        probe(Method::POST, "/login").form(b"%"),
        probe(Method::POST, "/login").form(b"%ZZ=%ZZ&csrf_token={csrf}"),
        probe(Method::POST, "/login").form(b"csrf_token={csrf}"),
        probe(Method::POST, "/login").form(b"csrf_token={csrf}&email"),
        probe(Method::POST, "/login").form(b"csrf_token={csrf}&email=a@b.c&email=b@c.d&password=x"),
        probe(Method::POST, "/login").form(b"csrf_token={csrf}&email[]=a&password[]=b"),
        probe(Method::POST, "/login")
            .form(b"csrf_token={csrf}&csrf_token=other&email=a@b.c&password=x"),
        probe(Method::POST, "/login").form(b"csrf_token={csrf}&email=a@b.c&password=x&extra=1"),
        probe(Method::POST, "/login").form(b"csrf_token={csrf}&email=%40&password=x"),
        probe(Method::POST, "/login").form(b"csrf_token={csrf}&email=@@@&password=x"),
        probe(Method::POST, "/login").form(long_next.as_bytes()),
        probe(Method::POST, "/login")
            .form(b"csrf_token={csrf}&email=a@b.c&password=x&next=/%0d%0aX:%20y"),
        probe(Method::POST, "/login")
            .form(b"csrf_token={csrf}&email=a%0d%0aX-Injected:%20y@b.c&password=x"),
        probe(Method::POST, "/login").typed(
            "application/x-www-form-urlencoded; charset=iso-8859-1",
            b"csrf_token={csrf}&email=\xE9@x.io&password=x",
        ),
        // Wrong or missing content types.
        probe(Method::POST, "/login").typed("application/json", br#"{"email":"a@b.c"}"#),
        probe(Method::POST, "/login")
            .typed("application/json", br#"{"email":"a@b.c"}"#)
            .header("X-CSRF-Token", b"{csrf}"),
        probe(Method::POST, "/login")
            .typed("text/plain", b"csrf_token={csrf}&email=a@b.c&password=x")
            .header("X-CSRF-Token", b"{csrf}"),
        probe(Method::POST, "/login")
            .typed("multipart/form-data; boundary=x", b"--x\r\n\r\n--x--")
            .header("X-CSRF-Token", b"{csrf}"),
        probe(Method::POST, "/login").header("X-CSRF-Token", b"{csrf}"),
        probe(Method::POST, "/login")
            .typed(
                "application/x-www-form-urlencoded",
                b"email=a@b.c&password=x",
            )
            .header("X-CSRF-Token", b"{csrf}"),
        probe(Method::POST, "/login")
            .header("Content-Type", b"\xFF")
            .body(b"csrf_token={csrf}"),
        // Odd headers.
        probe(Method::GET, HOME)
            .header("HX-Request", b"true")
            .header("HX-Current-URL", b"\xFF\xFE"),
        probe(Method::GET, HOME)
            .header("HX-Request", b"true")
            .header("HX-Current-URL", b"not a url"),
        probe(Method::GET, HOME)
            .header("HX-Request", b"true")
            .header("HX-Current-URL", b"http://evil.example//evil.example"),
        probe(Method::POST, "/logout")
            .form(b"csrf_token=x")
            .header("Referer", b"\xFF"),
        probe(Method::POST, "/logout")
            .form(b"csrf_token=x")
            .header("Referer", b"http://"),
        probe(Method::POST, "/logout")
            .form(b"csrf_token=x")
            .header("Origin", b"null"),
        probe(Method::POST, "/logout")
            .form(b"csrf_token=x")
            .header("Origin", b"\xFF"),
        probe(Method::POST, "/logout").header("X-CSRF-Token", b"\xFF"),
        probe(Method::GET, HOME).header("Cookie", b"latchkey_session=\xFF\xFE"),
        probe(Method::GET, HOME).header("Cookie", b";;;=;"),
        probe(Method::GET, "/login").header("Accept", b"application/json"),
        probe(Method::GET, "/login").header("Accept-Language", b"\xFF"),
        probe(Method::GET, "/static/app.css").header("If-None-Match", b"\xFF"),
        probe(Method::GET, "/static/app.css?v=%FF&v=1"),
        probe(Method::GET, "/static/%FF"),
        probe(Method::GET, "/static/%00"),
    ];

    let owner = browser();
    let owner_csrf = app.sign_in(&owner, OWNER_EMAIL).await?;
    for probe in &probes {
        let what = format!(
            "{} {} {:?}",
            probe.method,
            probe.path,
            String::from_utf8_lossy(&probe.body)
        );
        // As someone who is not signed in (with a fresh address and session)…
        let anonymous = fresh_browser();
        let csrf = app.login_csrf(&anonymous).await?;
        let res = probe.send(&app, &anonymous, &csrf).await?;
        assert_handled(&format!("anonymous {what}"), res).await?;
        // …and as a signed-in Owner, unless it would sign them out.
        if probe.path != "/logout" {
            let res = probe.send(&app, &owner, &owner_csrf).await?;
            assert_handled(&format!("owner {what}"), res).await?;
        }
    }
    assert!(
        app.is_signed_in(&owner).await?,
        "the owner is still signed in"
    );
    // And the server still answers.
    let res = raw_request(
        app.addr,
        format!(
            "GET /healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            app.addr
        )
        .as_bytes(),
    )
    .await?;
    assert_eq!(res.status, 200);
    Ok(())
}

#[tokio::test]
async fn sign_in_with_odd_but_valid_input_still_works() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    let csrf = app.login_csrf(&client).await?;
    // Extra fields and a field order browsers would not use are fine.
    let res = client
        .post(app.url("/login"))
        .header(
            "Content-Type",
            "application/x-www-form-urlencoded; charset=UTF-8",
        )
        .body(format!(
            "next=%2Fsettings%2Faudit&extra=1&password={}&email={}&csrf_token={csrf}",
            crate::helpers::encode(PASSWORD),
            crate::helpers::encode(OWNER_EMAIL)
        ))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res).as_deref(), Some("/settings/audit"));
    Ok(())
}
