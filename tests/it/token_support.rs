//! Shared by the token tests: a team with one member per role, callers for
//! the token operations, tokens seeded straight into the store, and readers
//! for what the database holds.

use anyhow::{Context, anyhow};
use latchkey::domain::MemberRole;
use latchkey::domain::secret::NewSecret;
use latchkey::domain::token::{DEFAULT_API_VERSION, TokenKind, TokenRole};
use latchkey::store::{AuditActor, Member, NewToken, Store, Token, TokenFields};
use latchkey::tokens::{Caller, CreateRequest, Issued};
use reqwest::{Client, Response};
use sqlx::Row;

use crate::db::TestStore;
use crate::helpers::{OWNER_EMAIL, READER_EMAIL, TestApp, spawn_app_with};
use crate::html;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const WRITER_EMAIL: &str = "writer@example.com";
pub const NO_ACCESS_EMAIL: &str = "no-access@example.com";
/// An Admin whose personal tokens are "another member's" for everyone else.
pub const OTHER_EMAIL: &str = "other@example.com";

/// The client IP the direct operation calls report for the audit log.
pub const TEST_IP: &str = "192.0.2.7";

pub const TOKENS_URL: &str = "/settings/authorization/tokens";

/// One member per role, plus another Admin.
pub struct Team {
    pub owner: Member,
    pub admin: Member,
    pub writer: Member,
    pub reader: Member,
    pub no_access: Member,
    pub other: Member,
}

impl Team {
    pub fn with_role(&self, role: MemberRole) -> &Member {
        match role {
            MemberRole::Owner => &self.owner,
            MemberRole::Admin => &self.admin,
            MemberRole::Writer => &self.writer,
            MemberRole::Reader => &self.reader,
            MemberRole::NoAccess => &self.no_access,
        }
    }
}

pub fn email_for(role: MemberRole) -> &'static str {
    match role {
        MemberRole::Owner => OWNER_EMAIL,
        MemberRole::Admin => ADMIN_EMAIL,
        MemberRole::Writer => WRITER_EMAIL,
        MemberRole::Reader => READER_EMAIL,
        MemberRole::NoAccess => NO_ACCESS_EMAIL,
    }
}

/// Starts the app with the whole team.
pub async fn spawn_team() -> anyhow::Result<(TestApp, Team)> {
    let app = spawn_app_with(&[
        (OWNER_EMAIL, MemberRole::Owner),
        (ADMIN_EMAIL, MemberRole::Admin),
        (WRITER_EMAIL, MemberRole::Writer),
        (READER_EMAIL, MemberRole::Reader),
        (NO_ACCESS_EMAIL, MemberRole::NoAccess),
        (OTHER_EMAIL, MemberRole::Admin),
    ])
    .await?;
    let team = Team {
        owner: member(&app.store, OWNER_EMAIL).await?,
        admin: member(&app.store, ADMIN_EMAIL).await?,
        writer: member(&app.store, WRITER_EMAIL).await?,
        reader: member(&app.store, READER_EMAIL).await?,
        no_access: member(&app.store, NO_ACCESS_EMAIL).await?,
        other: member(&app.store, OTHER_EMAIL).await?,
    };
    Ok((app, team))
}

pub async fn member(store: &Store, email: &str) -> anyhow::Result<Member> {
    store
        .find_member_credentials(email)
        .await?
        .map(|(m, _)| m)
        .ok_or_else(|| anyhow!("no member {email}"))
}

/// The member as stored now (after a role change made with SQL).
pub async fn reload(store: &Store, member: &Member) -> anyhow::Result<Member> {
    store
        .find_member(&member.id)
        .await?
        .ok_or_else(|| anyhow!("member {} is gone", member.email))
}

/// Changes a member's role as `latchkey member set-role` does (the change
/// reaches every running server's memory at once; a change made with raw
/// SQL behind the application's back would not).
pub async fn set_member_role(
    store: &TestStore,
    member: &Member,
    role: MemberRole,
) -> anyhow::Result<()> {
    store.set_member_role(&member.id, role, None).await?;
    Ok(())
}

pub fn caller(member: &Member) -> Caller<'_> {
    Caller::member(member, TEST_IP)
}

pub fn request(name: &str, kind: TokenKind, role: TokenRole) -> CreateRequest {
    CreateRequest {
        name: name.to_string(),
        description: String::new(),
        role,
        kind,
        api_version: DEFAULT_API_VERSION,
        expires_at: None,
    }
}

/// Creates a token through the operation, which must succeed.
pub async fn create(
    store: &Store,
    member: &Member,
    name: &str,
    kind: TokenKind,
    role: TokenRole,
) -> anyhow::Result<Issued> {
    latchkey::tokens::create(store, caller(member), request(name, kind, role))
        .await
        .map_err(|e| anyhow!("creating {name:?} as {}: {e:?}", member.email))
}

/// Stores a token for `member` without asking the rules: how a token whose
/// role is above its member's comes about (the member was demoted since).
pub async fn seed_token(
    store: &Store,
    member: &Member,
    name: &str,
    kind: TokenKind,
    role: TokenRole,
) -> anyhow::Result<Token> {
    let secret = NewSecret::generate(kind);
    let new = NewToken {
        fields: TokenFields {
            name: name.to_string(),
            description: format!("seeded {name}"),
            role,
            api_version: DEFAULT_API_VERSION,
            expires_at: None,
        },
        kind,
        member_id: member.id.clone(),
        digest: secret.digest(),
        last_four: secret.last_four(),
    };
    let actor = AuditActor {
        member_id: Some(member.id.clone()),
        token_id: None,
        label: member.email.clone(),
        client_ip: None,
    };
    store
        .create_token(&new, &actor, None)
        .await
        .with_context(|| format!("seeding token {name}"))
}

pub async fn count_tokens(store: &TestStore) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM tokens")
        .fetch_one(store.sql())
        .await?)
}

pub async fn count_secrets(store: &TestStore) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM token_secrets")
        .fetch_one(store.sql())
        .await?)
}

pub async fn count_audit(store: &TestStore, action: &str) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = $1")
            .bind(action)
            .fetch_one(store.sql())
            .await?,
    )
}

/// A token's secrets as `(digest, valid_until)`, current (NULL) first.
pub async fn secrets_of(
    store: &TestStore,
    token_id: &str,
) -> anyhow::Result<Vec<(String, Option<i64>)>> {
    let rows = sqlx::query(
        "SELECT digest, valid_until FROM token_secrets WHERE token_id = $1
         ORDER BY valid_until IS NOT NULL, valid_until, created_at",
    )
    .bind(token_id)
    .fetch_all(store.sql())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("digest")?, r.try_get("valid_until")?)))
        .collect()
}

/// One row of `audit_events`.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub action: String,
    pub actor_member_id: Option<String>,
    pub actor_email: Option<String>,
    pub token_id: Option<String>,
    pub token_name: Option<String>,
    pub source_token_id: Option<String>,
    pub client_ip: Option<String>,
    pub occurred_at: i64,
}

/// Every audit event about a token, oldest first.
pub async fn audit_for_token(store: &TestStore, token_id: &str) -> anyhow::Result<Vec<AuditRow>> {
    let rows = sqlx::query(
        "SELECT action, actor_member_id, actor_email, token_id, token_name, source_token_id,
                client_ip, occurred_at
         FROM audit_events WHERE token_id = $1 ORDER BY id",
    )
    .bind(token_id)
    .fetch_all(store.sql())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditRow {
                action: r.try_get("action")?,
                actor_member_id: r.try_get("actor_member_id")?,
                actor_email: r.try_get("actor_email")?,
                token_id: r.try_get("token_id")?,
                token_name: r.try_get("token_name")?,
                source_token_id: r.try_get("source_token_id")?,
                client_ip: r.try_get("client_ip")?,
                occurred_at: r.try_get("occurred_at")?,
            })
        })
        .collect()
}

/// The CSRF token of a signed-in page.
pub fn page_csrf(body: &str) -> anyhow::Result<String> {
    html::input_value(body, "csrf_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| anyhow!("no csrf_token on the page:\n{body}"))
}

/// POSTs a form to `path` (no redirect followed).
pub async fn post_form(
    app: &TestApp,
    client: &Client,
    path: &str,
    fields: &[(&str, &str)],
) -> anyhow::Result<Response> {
    client
        .post(app.url(path))
        .form(fields)
        .send()
        .await
        .with_context(|| format!("POST {path}"))
}

/// Like `post_form`, as htmx sends it.
pub async fn post_htmx(
    app: &TestApp,
    client: &Client,
    path: &str,
    csrf: &str,
    fields: &[(&str, &str)],
) -> anyhow::Result<Response> {
    client
        .post(app.url(path))
        .header("HX-Request", "true")
        .header("HX-Current-URL", app.url("/settings/authorization"))
        .header("X-CSRF-Token", csrf)
        .form(fields)
        .send()
        .await
        .with_context(|| format!("htmx POST {path}"))
}

/// What `GET /api/v2/caller-identity` answers `secret`, sent by `client`
/// (one bound to another address, say) to the server at `base_url`.
pub async fn identity_status(
    base_url: &str,
    client: &Client,
    secret: &str,
) -> anyhow::Result<reqwest::StatusCode> {
    Ok(client
        .get(format!("{base_url}/api/v2/caller-identity"))
        .header("Authorization", secret)
        .send()
        .await
        .context("GET caller-identity")?
        .status())
}

/// An htmx answer that changed one token's row: 200, the row swapped in
/// out of band, and `message` announced. Returns the fragment.
pub async fn expect_row_changed(
    res: Response,
    token_id: &str,
    message: &str,
) -> anyhow::Result<String> {
    anyhow::ensure!(
        res.status() == reqwest::StatusCode::OK,
        "status {}",
        res.status()
    );
    let fragment = res.text().await?;
    anyhow::ensure!(
        fragment.contains(&format!(r#"id="row-{token_id}""#)),
        "the row is not in the answer: {fragment}"
    );
    anyhow::ensure!(
        fragment.contains(message),
        "{message:?} is not announced: {fragment}"
    );
    Ok(fragment)
}
