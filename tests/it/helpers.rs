//! Starting the application and talking to it like a browser.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use anyhow::{Context, anyhow, bail, ensure};
use latchkey::domain::MemberRole;
use reqwest::header::{self, HeaderMap};
use reqwest::{Client, Response, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::db::{TestDb, TestStore};
use crate::html;

pub type TestResult = anyhow::Result<()>;

/// The wall clock, for tests that never move the application's clock.
pub fn now_ms() -> i64 {
    latchkey::clock::Clock::system().now_ms()
}

pub const OWNER_EMAIL: &str = "owner@example.com";
pub const READER_EMAIL: &str = "reader@example.com";
pub const PASSWORD: &str = "correct horse battery staple";
pub const HOME: &str = "/settings/authorization";
pub const SESSION_COOKIE: &str = "latchkey_session";

/// Argon2 is slow on purpose; every member in every test shares one hash.
pub static PASSWORD_HASH: LazyLock<String> = LazyLock::new(|| {
    latchkey::domain::password::hash_password(PASSWORD).expect("hashing the test password")
});

/// A running application with its own database. Dropping it stops nothing
/// explicitly: the server task ends with the test's runtime, and the
/// temporary directory is removed.
pub struct TestApp {
    pub addr: SocketAddr,
    /// The application's own store (same database), for tests that call the
    /// token operations directly or inspect what was stored.
    pub store: TestStore,
    pub state: latchkey::AppState,
}

/// Starts a server on `db` (which may already hold data, or serve another
/// instance) with `members` added, all with `PASSWORD`.
pub async fn launch(db: Arc<TestDb>, members: &[(&str, MemberRole)]) -> anyhow::Result<TestApp> {
    launch_configured(db, members, |_| {}).await
}

/// Like `launch`, with the configuration changed by `configure` first.
pub async fn launch_configured(
    db: Arc<TestDb>,
    members: &[(&str, MemberRole)],
    configure: impl FnOnce(&mut latchkey::config::Config),
) -> anyhow::Result<TestApp> {
    let mut config = latchkey::config::Config::for_database(db.url.clone());
    configure(&mut config);
    let app = latchkey::App::new(config).await?;
    for (email, role) in members {
        app.state()
            .store
            .create_member(email, *role, &PASSWORD_HASH, None)
            .await
            .with_context(|| format!("creating member {email}"))?;
    }
    let state = app.state().clone();
    let store = TestStore::new(state.store.clone(), db).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(app.serve(listener, std::future::pending()));
    Ok(TestApp { addr, store, state })
}

/// Starts the application with an Owner (`OWNER_EMAIL`) and a Reader
/// (`READER_EMAIL`), both with `PASSWORD`.
pub async fn spawn_app() -> anyhow::Result<TestApp> {
    spawn_app_with(&[
        (OWNER_EMAIL, MemberRole::Owner),
        (READER_EMAIL, MemberRole::Reader),
    ])
    .await
}

/// Starts the application with the given members, all with `PASSWORD`.
pub async fn spawn_app_with(members: &[(&str, MemberRole)]) -> anyhow::Result<TestApp> {
    launch(Arc::new(TestDb::new().await?), members).await
}

/// A browser-like client: keeps cookies, does not follow redirects (so tests
/// see each `Location`), ignores any proxy in the environment.
pub fn browser() -> Client {
    builder()
        .cookie_store(true)
        .build()
        .expect("building a client")
}

/// A browser-like client whose connections come from `ip` (any address in
/// 127.0.0.0/8 works on Linux), so that per-IP throttling can be told apart.
pub fn browser_from(ip: IpAddr) -> Client {
    builder()
        .cookie_store(true)
        .local_address(ip)
        .build()
        .expect("building a client")
}

/// A client without a cookie store, for sending a `Cookie` header by hand.
pub fn bare_client() -> Client {
    builder().build().expect("building a client")
}

fn builder() -> reqwest::ClientBuilder {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(60))
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, client: &Client, path: &str) -> anyhow::Result<Response> {
        client
            .get(self.url(path))
            .send()
            .await
            .with_context(|| format!("GET {path}"))
    }

    /// GET /login and return the page's CSRF token.
    pub async fn login_csrf(&self, client: &Client) -> anyhow::Result<String> {
        let res = self.get(client, "/login").await?;
        ensure!(
            res.status() == StatusCode::OK,
            "GET /login: {}",
            res.status()
        );
        let body = res.text().await?;
        html::input_value(&body, "csrf_token")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| anyhow!("no csrf_token field on the sign-in page:\n{body}"))
    }

    /// POST /login with the given fields (no redirect followed).
    pub async fn post_login(
        &self,
        client: &Client,
        csrf: &str,
        email: &str,
        password: &str,
        next: Option<&str>,
    ) -> anyhow::Result<Response> {
        let mut form = vec![
            ("email", email),
            ("password", password),
            ("csrf_token", csrf),
        ];
        if let Some(next) = next {
            form.push(("next", next));
        }
        client
            .post(self.url("/login"))
            .form(&form)
            .send()
            .await
            .context("POST /login")
    }

    /// Fetches the sign-in page and submits it; returns the response to the
    /// POST.
    pub async fn attempt_sign_in(
        &self,
        client: &Client,
        email: &str,
        password: &str,
    ) -> anyhow::Result<Response> {
        let csrf = self.login_csrf(client).await?;
        self.post_login(client, &csrf, email, password, None).await
    }

    /// Signs in and returns the CSRF token of the signed-in session.
    pub async fn sign_in(&self, client: &Client, email: &str) -> anyhow::Result<String> {
        let res = self.attempt_sign_in(client, email, PASSWORD).await?;
        ensure!(
            res.status() == StatusCode::SEE_OTHER,
            "signing in as {email}: {} {}",
            res.status(),
            res.text().await.unwrap_or_default()
        );
        let res = self.get(client, HOME).await?;
        ensure!(
            res.status() == StatusCode::OK,
            "GET {HOME}: {}",
            res.status()
        );
        let body = res.text().await?;
        html::input_value(&body, "csrf_token")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| anyhow!("no csrf_token on {HOME}"))
    }

    /// Whether `client` is signed in: the Authorization page answers 200
    /// rather than redirecting to the sign-in page.
    pub async fn is_signed_in(&self, client: &Client) -> anyhow::Result<bool> {
        let res = self.get(client, HOME).await?;
        match res.status() {
            StatusCode::OK => Ok(true),
            StatusCode::SEE_OTHER => {
                let to = location(&res).unwrap_or_default();
                ensure!(to.starts_with("/login"), "{HOME} redirected to {to}");
                Ok(false)
            }
            other => bail!("GET {HOME}: unexpected {other}"),
        }
    }
}

/// The `Location` header.
pub fn location(res: &Response) -> Option<String> {
    res.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A header's value as text.
pub fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Every `Set-Cookie` header of a response.
pub fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_string)
        .collect()
}

/// The full `Set-Cookie` line for the session cookie, if the response set it.
pub fn session_set_cookie(headers: &HeaderMap) -> Option<String> {
    set_cookies(headers)
        .into_iter()
        .find(|c| c.starts_with(&format!("{SESSION_COOKIE}=")))
}

/// The session cookie's value, if the response set it.
pub fn session_cookie_value(headers: &HeaderMap) -> Option<String> {
    session_set_cookie(headers).and_then(|line| {
        line.split(';')
            .next()
            .and_then(|pair| pair.split_once('='))
            .map(|(_, value)| value.trim().to_string())
    })
}

/// Percent-encodes a query-string value.
pub fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A response read from a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

/// Sends `request` bytes as-is (it should say `Connection: close`) and reads
/// the response until the server closes the connection.
pub async fn raw_request(addr: SocketAddr, request: &[u8]) -> anyhow::Result<RawResponse> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(request).await?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut buf))
        .await
        .context("timed out reading the response")??;
    parse_raw_response(&buf)
}

pub fn parse_raw_response(buf: &[u8]) -> anyhow::Result<RawResponse> {
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("no complete response head in {} bytes", buf.len()))?;
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("no status in {head:?}"))?;
    Ok(RawResponse {
        status,
        head,
        body: buf[split + 4..].to_vec(),
    })
}
