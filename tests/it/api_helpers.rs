//! Shared by the `/api/v2` tests: an application whose state (store, usage
//! recorder, throttle) the test keeps, a team with one member per role,
//! tokens issued through the operations, and requests that keep the whole
//! answer (status, headers, body) for the assertions and their messages.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, anyhow, ensure};
use latchkey::AppState;
use latchkey::domain::MemberRole;
use latchkey::domain::token::{DEFAULT_API_VERSION, TokenKind, TokenRole};
use latchkey::store::{Member, Store};
use latchkey::tokens::{Caller, CreateRequest, Issued};
use reqwest::header::{self, HeaderMap};
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;

use crate::db::{TestDb, TestStore};
use crate::helpers::{TestApp, bare_client, launch_configured};

pub const API: &str = "/api/v2";
pub const API_IP: &str = "198.51.100.4";

pub const OWNER: &str = "api-owner@example.com";
pub const ADMIN: &str = "api-admin@example.com";
pub const WRITER: &str = "api-writer@example.com";
pub const READER: &str = "api-reader@example.com";
/// A second Admin, whose personal tokens are "someone else's".
pub const OTHER: &str = "api-other@example.com";

/// A running application whose state the test can reach.
pub struct ApiApp {
    pub addr: SocketAddr,
    pub state: AppState,
    pub client: Client,
    /// The store, with the test's own connection to its database.
    pub db: TestStore,
}

/// One member per role, plus another Admin.
pub struct Members {
    pub owner: Member,
    pub admin: Member,
    pub writer: Member,
    pub reader: Member,
    pub other: Member,
}

/// Starts the application with the whole team.
pub async fn spawn_api() -> anyhow::Result<(ApiApp, Members)> {
    spawn_api_configured(|_| {}).await
}

/// Like `spawn_api`, with the configuration changed by `configure` first.
pub async fn spawn_api_configured(
    configure: impl FnOnce(&mut latchkey::config::Config),
) -> anyhow::Result<(ApiApp, Members)> {
    let team = [
        (OWNER, MemberRole::Owner),
        (ADMIN, MemberRole::Admin),
        (WRITER, MemberRole::Writer),
        (READER, MemberRole::Reader),
        (OTHER, MemberRole::Admin),
    ];
    let app = launch_configured(Arc::new(TestDb::new().await?), &team, configure).await?;
    let mut made = Vec::new();
    for (email, _) in team {
        made.push(
            app.store
                .find_member_by_email(email)
                .await?
                .ok_or_else(|| anyhow!("member {email} was not created"))?,
        );
    }
    let mut made = made.into_iter();
    let mut next = || made.next().expect("five members");
    let members = Members {
        owner: next(),
        admin: next(),
        writer: next(),
        reader: next(),
        other: next(),
    };
    Ok((ApiApp::from(app), members))
}

impl ApiApp {
    /// Another handle on the same running server.
    pub fn another_handle(&self) -> ApiApp {
        ApiApp {
            addr: self.addr,
            state: self.state.clone(),
            client: bare_client(),
            db: self.db.clone(),
        }
    }
}

impl From<TestApp> for ApiApp {
    fn from(app: TestApp) -> Self {
        ApiApp {
            addr: app.addr,
            state: app.state,
            client: bare_client(),
            db: app.store,
        }
    }
}

pub fn caller(member: &Member) -> Caller<'_> {
    Caller::member(member, API_IP)
}

pub fn create_request(name: &str, kind: TokenKind, role: TokenRole) -> CreateRequest {
    CreateRequest {
        name: name.to_string(),
        description: String::new(),
        role,
        kind,
        api_version: DEFAULT_API_VERSION,
        expires_at: None,
    }
}

/// Everything a response said.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_slice(&self.body)
            .with_context(|| format!("{} body is not JSON: {}", self.status, self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The status must be `status`; returns the JSON body.
    pub fn expect(&self, status: StatusCode) -> anyhow::Result<Value> {
        ensure!(
            self.status == status,
            "expected {status}, got {}: {}",
            self.status,
            self.text()
        );
        if status == StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        self.json()
    }

    /// An API error: this status, a JSON content type and a body of exactly
    /// `{"code": code, "message": <non-empty text>}`.
    pub fn expect_error(&self, status: StatusCode, code: &str) -> anyhow::Result<()> {
        ensure!(
            self.status == status,
            "expected {status} {code}, got {}: {}",
            self.status,
            self.text()
        );
        let content_type = self.header("content-type").unwrap_or_default();
        ensure!(
            content_type.starts_with("application/json"),
            "{status} error has content type {content_type:?}: {}",
            self.text()
        );
        let body = self.json()?;
        ensure!(
            keys(&body) == set(&["code", "message"]),
            "error body must be exactly {{code, message}}: {body}"
        );
        ensure!(body["code"] == code, "expected code {code:?}: {body}");
        ensure!(
            body["message"]
                .as_str()
                .is_some_and(|m| !m.trim().is_empty()),
            "error message must be non-empty text: {body}"
        );
        Ok(())
    }
}

/// The keys of a JSON object (empty for anything else).
pub fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A request with an optional `Authorization` header, an optional body and
/// its content type.
pub struct Call<'a> {
    app: &'a ApiApp,
    client: Option<&'a Client>,
    method: Method,
    path: String,
    auth: Option<String>,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
}

impl<'a> Call<'a> {
    pub fn auth(mut self, secret: &str) -> Self {
        self.auth = Some(secret.to_string());
        self
    }

    pub fn raw_auth(mut self, value: &str) -> Self {
        self.auth = Some(value.to_string());
        self
    }

    /// Sends with `client` (for example one bound to another address).
    pub fn via(mut self, client: &'a Client) -> Self {
        self.client = Some(client);
        self
    }

    /// A JSON body with `Content-Type: application/json`.
    pub fn json(self, body: &Value) -> Self {
        self.body("application/json", body.to_string().into_bytes())
    }

    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.content_type = Some(content_type.to_string());
        self.body = Some(body.into());
        self
    }

    /// A body without a `Content-Type` header.
    pub fn untyped_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.content_type = None;
        self.body = Some(body.into());
        self
    }

    pub async fn send(self) -> anyhow::Result<Reply> {
        let client = self.client.unwrap_or(&self.app.client);
        let what = format!("{} {}", self.method, self.path);
        let mut req = client.request(self.method, self.app.url(&self.path));
        if let Some(auth) = &self.auth {
            req = req.header(header::AUTHORIZATION, auth);
        }
        if let Some(ct) = &self.content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        if let Some(body) = self.body {
            req = req.body(body);
        }
        let res = req.send().await.with_context(|| what.clone())?;
        let status = res.status();
        let headers = res.headers().clone();
        let body = res
            .bytes()
            .await
            .with_context(|| format!("reading the body of {what}"))?
            .to_vec();
        ensure!(
            status != StatusCode::INTERNAL_SERVER_ERROR,
            "{what} answered 500: {}",
            String::from_utf8_lossy(&body)
        );
        Ok(Reply {
            status,
            headers,
            body,
        })
    }
}

impl ApiApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Now, by the application's own clock.
    pub fn now_ms(&self) -> i64 {
        self.state.clock.now_ms()
    }

    /// Moves the application's clock forward, instead of sleeping until an
    /// expiry or a grace period has passed.
    pub fn advance(&self, by: std::time::Duration) {
        self.state.clock.advance(by);
    }

    /// A request to `path` (relative to `/api/v2` unless it starts with `/`).
    pub fn call(&self, method: Method, path: &str) -> Call<'_> {
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("{API}/{path}")
        };
        Call {
            app: self,
            client: None,
            method,
            path,
            auth: None,
            content_type: None,
            body: None,
        }
    }

    pub async fn get(&self, path: &str, secret: &str) -> anyhow::Result<Reply> {
        self.call(Method::GET, path).auth(secret).send().await
    }

    pub async fn post(&self, path: &str, secret: &str) -> anyhow::Result<Reply> {
        self.call(Method::POST, path).auth(secret).send().await
    }

    pub async fn post_json(&self, path: &str, secret: &str, body: &Value) -> anyhow::Result<Reply> {
        self.call(Method::POST, path)
            .auth(secret)
            .json(body)
            .send()
            .await
    }

    pub async fn patch(&self, path: &str, secret: &str, body: &Value) -> anyhow::Result<Reply> {
        self.call(Method::PATCH, path)
            .auth(secret)
            .body("application/json-patch+json", body.to_string())
            .send()
            .await
    }

    pub async fn delete(&self, path: &str, secret: &str) -> anyhow::Result<Reply> {
        self.call(Method::DELETE, path).auth(secret).send().await
    }

    /// Issues a token through the create operation (which must succeed).
    pub async fn issue(
        &self,
        member: &Member,
        name: &str,
        kind: TokenKind,
        role: TokenRole,
    ) -> anyhow::Result<Issued> {
        self.issue_with(member, create_request(name, kind, role))
            .await
    }

    pub async fn issue_with(
        &self,
        member: &Member,
        request: CreateRequest,
    ) -> anyhow::Result<Issued> {
        let name = request.name.clone();
        latchkey::tokens::create(self.store(), caller(member), request)
            .await
            .map_err(|e| anyhow!("creating {name:?} as {}: {e:?}", member.email))
    }

    /// `GET /caller-identity` with `secret`, which must answer 200.
    pub async fn identity(&self, secret: &str) -> anyhow::Result<Value> {
        self.get("caller-identity", secret)
            .await?
            .expect(StatusCode::OK)
    }

    pub async fn count_tokens(&self) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM tokens")
            .fetch_one(self.db.sql())
            .await?)
    }
}

/// The issued token's secret and id, for brevity.
pub fn sid(issued: &Issued) -> (String, String) {
    (issued.secret.clone(), issued.token.id.clone())
}

/// An id of the right shape that no token has.
pub const UNKNOWN_ID: &str = "0123456789abcdef01234567";
