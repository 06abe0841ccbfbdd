//! Access tokens and their secret digests.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::audit::{NewAuditEvent, record_event, record_events};
use super::catalog;
use super::sql::Sql;
use super::{Change, Store, StoreError, StoreResult, settings};
use crate::domain::MemberRole;
use crate::domain::audit::AuditAction;
use crate::domain::listing::{Sort, TimeFilter};
use crate::domain::policy::{TokenFacts, TokenScope};
use crate::domain::token::{TokenKind, TokenRole};

/// A token as stored, with its member's email and current role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub id: String,
    pub name: String,
    pub description: String,
    pub role: TokenRole,
    pub kind: TokenKind,
    pub member_id: String,
    pub member_email: String,
    pub member_role: MemberRole,
    pub api_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub last_four: String,
    pub version: i64,
    /// When it was suspended; `None` while it works.
    pub suspended_at: Option<i64>,
    /// When the last of its replaced secrets stops working (it may have
    /// passed already); `None` when no reset left one working.
    pub old_secret_until: Option<i64>,
    /// When a replaced secret was last used since the latest reset.
    pub old_secret_last_used_at: Option<i64>,
}

/// A reset's grace period while it runs: the old secret still works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grace {
    /// When the old secret stops working.
    pub until: i64,
    /// When it was last used since the reset; `None`: not used since.
    pub last_used_at: Option<i64>,
}

impl Token {
    pub fn facts(&self) -> TokenFacts<'_> {
        TokenFacts {
            kind: self.kind,
            role: self.role,
            member_id: &self.member_id,
        }
    }

    pub fn is_suspended(&self) -> bool {
        self.suspended_at.is_some()
    }

    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_at.is_some_and(|t| t <= now_ms)
    }

    /// The grace period of its latest reset, while the old secret works.
    pub fn grace(&self, now_ms: i64) -> Option<Grace> {
        self.old_secret_until
            .filter(|until| *until > now_ms)
            .map(|until| Grace {
                until,
                last_used_at: self.old_secret_last_used_at,
            })
    }
}

/// Who did something, for the audit log.
#[derive(Debug, Clone)]
pub struct AuditActor {
    pub member_id: Option<String>,
    /// The API token the action came through, if any.
    pub token_id: Option<String>,
    pub label: String,
    pub client_ip: Option<String>,
}

/// The fields of a token that its creator or editor chooses.
#[derive(Debug, Clone)]
pub struct TokenFields {
    pub name: String,
    pub description: String,
    pub role: TokenRole,
    pub api_version: i64,
    pub expires_at: Option<i64>,
}

/// A new token's row, validated by the caller.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub fields: TokenFields,
    pub kind: TokenKind,
    pub member_id: String,
    pub digest: String,
    pub last_four: String,
}

/// Which tokens a list shows.
#[derive(Debug, Clone)]
pub struct TokenFilter<'a> {
    /// Whose tokens, as `domain::policy::list_scope` decided.
    pub scope: TokenScope<'a>,
    pub name_contains: Option<String>,
    pub role: Option<TokenRole>,
    pub kind: Option<TokenKind>,
    pub sort: Sort,
    pub time: TimeFilter,
}

const TOKEN_COLUMNS: &str = "t.id, t.name, t.description, t.role, t.kind, t.member_id, \
     m.email AS member_email, m.role AS member_role, t.api_version, t.created_at, \
     t.updated_at, t.last_used_at, t.expires_at, t.last_four, t.version, t.suspended_at, \
     t.old_secret_last_used_at, (SELECT MAX(s.valid_until) FROM token_secrets s \
     WHERE s.token_id = t.id) AS old_secret_until";

fn token_from_row(row: &AnyRow) -> StoreResult<Token> {
    let role: String = row.try_get("role")?;
    let kind: String = row.try_get("kind")?;
    let member_role: String = row.try_get("member_role")?;
    Ok(Token {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        role: role
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("token role {role:?}")))?,
        kind: TokenKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("token kind {kind:?}")))?,
        member_id: row.try_get("member_id")?,
        member_email: row.try_get("member_email")?,
        member_role: member_role
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("member role {member_role:?}")))?,
        api_version: row.try_get("api_version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        last_used_at: row.try_get("last_used_at")?,
        expires_at: row.try_get("expires_at")?,
        last_four: row.try_get("last_four")?,
        version: row.try_get("version")?,
        suspended_at: row.try_get("suspended_at")?,
        old_secret_until: row.try_get("old_secret_until")?,
        old_secret_last_used_at: row.try_get("old_secret_last_used_at")?,
    })
}

/// The token with its member's email and role. `lock` is appended to the
/// query (`Store::lock_rows` inside a write transaction).
async fn fetch_token(conn: &mut AnyConnection, id: &str, lock: &str) -> StoreResult<Option<Token>> {
    let sql = format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens t JOIN members m ON m.id = t.member_id \
         WHERE t.id = $1{lock}"
    );
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(token_from_row)
        .transpose()
}

/// Deletes a token and its secrets inside the caller's write transaction;
/// whether there was a token to delete.
pub(crate) async fn delete_token_rows(conn: &mut AnyConnection, id: &str) -> StoreResult<bool> {
    sqlx::query("DELETE FROM token_secrets WHERE token_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let deleted = sqlx::query("DELETE FROM tokens WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

fn audit_event<'a>(
    action: AuditAction,
    actor: &'a AuditActor,
    token_id: &'a str,
    token_name: &'a str,
) -> NewAuditEvent<'a> {
    NewAuditEvent {
        action,
        actor_member_id: actor.member_id.as_deref(),
        actor_token_id: actor.token_id.as_deref(),
        actor_email: Some(&actor.label),
        token_id: Some(token_id),
        token_name: Some(token_name),
        client_ip: actor.client_ip.clone(),
        ..NewAuditEvent::default()
    }
}

impl Store {
    /// The end of every write that changes one token in place: its audit
    /// event in the same transaction, the token as it now is, and the
    /// change published and committed (so every instance re-reads it).
    async fn finish_token_change(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        id: &str,
        event: &NewAuditEvent<'_>,
        now: i64,
    ) -> StoreResult<Token> {
        record_event(&mut tx, event, now).await?;
        let token = fetch_token(&mut tx, id, "")
            .await?
            .ok_or(StoreError::NotFound)?;
        let changes = [Change::Token(id.to_string())];
        self.publish(&mut tx, &changes).await?;
        self.commit(tx, &changes).await?;
        Ok(token)
    }

    pub async fn find_token(&self, id: &str) -> StoreResult<Option<Token>> {
        let mut conn = self.pool().acquire().await?;
        fetch_token(&mut conn, id, "").await
    }

    /// One page of tokens in list order (lowercased name, then creation,
    /// then id), with the number that match: from the in-memory catalog,
    /// once it provably holds every change committed before this call.
    pub async fn list_tokens(
        &self,
        filter: &TokenFilter<'_>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<Token>, i64)> {
        self.sync().await?;
        Ok(self.catalog().list(&catalog::Query {
            scope: filter.scope,
            role: filter.role,
            kind: filter.kind,
            name_contains: filter.name_contains.as_deref(),
            sort: filter.sort,
            time: filter.time,
            limit: usize::try_from(limit).unwrap_or(0),
            offset: usize::try_from(offset).unwrap_or(0),
        }))
    }

    /// Replaces the editable fields if the token is still at
    /// `expected_version`: `NotFound` when it is gone, `Conflict` when someone
    /// else changed it first. With `new_expiry` (the edit changes the
    /// expiry), the expiry must pass the token policy in force, read in this
    /// transaction (`Invalid` otherwise); an expiry left as it was stays,
    /// even one set before the policy.
    pub async fn update_token(
        &self,
        id: &str,
        expected_version: i64,
        fields: &TokenFields,
        changed: &[&str],
        new_expiry: bool,
        actor: &AuditActor,
    ) -> StoreResult<Token> {
        let now = self.now_ms();
        let mut tx = self.begin_write().await?;
        if new_expiry {
            // Share-locked, like creates: see `settings`.
            let policy = settings::read_policy(&mut tx, &self.share_rows("s")).await?;
            policy
                .check_expiry(fields.expires_at, now)
                .map_err(StoreError::Invalid)?;
        }
        let result = sqlx::query(
            "UPDATE tokens SET name = $1, name_search = $2, description = $3, role = $4,
                    api_version = $5, expires_at = $6, updated_at = $7, version = version + 1
             WHERE id = $8 AND version = $9",
        )
        .bind(&fields.name)
        .bind(fields.name.to_lowercase())
        .bind(&fields.description)
        .bind(fields.role.as_str())
        .bind(fields.api_version)
        .bind(fields.expires_at)
        .bind(now)
        .bind(id)
        .bind(expected_version)
        .execute(&mut *tx)
        .await?;
        if result.rows_affected() == 0 {
            return match fetch_token(&mut tx, id, "").await? {
                Some(_) => Err(StoreError::Conflict(
                    "The token was changed by someone else; reload and try again".to_string(),
                )),
                None => Err(StoreError::NotFound),
            };
        }
        let mut event = audit_event(AuditAction::TokenUpdated, actor, id, &fields.name);
        event.detail = (!changed.is_empty()).then(|| format!("Changed {}", changed.join(", ")));
        self.finish_token_change(tx, id, &event, now).await
    }

    /// Gives the token a new secret. The current one keeps working until
    /// `old_valid_until` (dropped at once when that is `None` or past).
    pub async fn reset_token_secret(
        &self,
        id: &str,
        digest: &str,
        last_four: &str,
        old_valid_until: Option<i64>,
        actor: &AuditActor,
    ) -> StoreResult<Token> {
        let now = self.now_ms();
        let mut tx = self.begin_write().await?;
        // Locked first: a delete racing this reset either waits for it or
        // has already won (NotFound), never breaks it half way.
        let current = fetch_token(&mut tx, id, &self.lock_rows("t"))
            .await?
            .ok_or(StoreError::NotFound)?;
        match old_valid_until.filter(|t| *t > now) {
            // Older secrets already in a grace period keep their own end;
            // the current one gets the new grace, never a longer one.
            Some(until) => {
                sqlx::query(
                    "UPDATE token_secrets SET valid_until = $1
                     WHERE token_id = $2 AND valid_until IS NULL",
                )
                .bind(until)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM token_secrets WHERE token_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        sqlx::query(
            "INSERT INTO token_secrets (digest, token_id, valid_until, created_at)
             VALUES ($1, $2, NULL, $3)",
        )
        .bind(digest)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // Uses of older secrets before this reset say nothing about the
        // one it replaces: "not used since reset" until one comes.
        sqlx::query(
            "UPDATE tokens SET last_four = $1, updated_at = $2, version = version + 1,
                old_secret_last_used_at = NULL
             WHERE id = $3",
        )
        .bind(last_four)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let mut event = audit_event(AuditAction::TokenReset, actor, id, &current.name);
        event.detail = Some(match old_valid_until.filter(|t| *t > now) {
            Some(until) => format!("Old secret works until {}", crate::clock::format_utc(until)),
            None => "Old secret stopped working immediately".to_string(),
        });
        self.finish_token_change(tx, id, &event, now).await
    }

    /// Ends a reset's grace period now: every replaced secret of the token
    /// stops working, on every instance from the next request; the current
    /// one is untouched. `Conflict` when no replaced secret still works,
    /// or, with `expected_version`, when the token changed since the caller
    /// looked (a reset since may have replaced a secret they never saw).
    pub async fn end_token_grace(
        &self,
        id: &str,
        expected_version: Option<i64>,
        actor: &AuditActor,
    ) -> StoreResult<Token> {
        let now = self.now_ms();
        let mut tx = self.begin_write().await?;
        let token = fetch_token(&mut tx, id, &self.lock_rows("t"))
            .await?
            .ok_or(StoreError::NotFound)?;
        if expected_version.is_some_and(|v| v != token.version) {
            return Err(StoreError::Conflict(format!(
                "{} was reset or changed since you looked: check its grace period and try again",
                token.name
            )));
        }
        if token.grace(now).is_none() {
            return Err(StoreError::Conflict(format!(
                "{} has no old secret that still works: nothing to end",
                token.name
            )));
        }
        sqlx::query("DELETE FROM token_secrets WHERE token_id = $1 AND valid_until IS NOT NULL")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE tokens SET updated_at = $1, version = version + 1,
                old_secret_last_used_at = NULL
             WHERE id = $2",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let mut event = audit_event(AuditAction::TokenGraceEnded, actor, id, &token.name);
        event.detail = Some(match token.old_secret_last_used_at {
            Some(at) => format!(
                "Old secret stopped working; last used {}",
                crate::clock::format_utc(at)
            ),
            None => "Old secret stopped working; no use recorded since the reset".to_string(),
        });
        self.finish_token_change(tx, id, &event, now).await
    }

    /// Suspends (`true`) or resumes (`false`) a token: while suspended every
    /// secret of it answers 401, on every instance from the next request;
    /// resumed, the same secrets work again. Asking for the state it is
    /// already in changes nothing and audits nothing.
    pub async fn set_token_suspended(
        &self,
        id: &str,
        suspended: bool,
        actor: &AuditActor,
    ) -> StoreResult<Token> {
        let now = self.now_ms();
        let mut tx = self.begin_write().await?;
        let token = fetch_token(&mut tx, id, &self.lock_rows("t"))
            .await?
            .ok_or(StoreError::NotFound)?;
        if token.is_suspended() == suspended {
            return Ok(token);
        }
        sqlx::query(
            "UPDATE tokens SET suspended_at = $1, updated_at = $2, version = version + 1
             WHERE id = $3",
        )
        .bind(suspended.then_some(now))
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let action = if suspended {
            AuditAction::TokenSuspended
        } else {
            AuditAction::TokenResumed
        };
        let event = audit_event(action, actor, id, &token.name);
        self.finish_token_change(tx, id, &event, now).await
    }

    /// Deletes the token and every secret of it. Exactly one of several
    /// concurrent deletes succeeds; the others get `NotFound`.
    pub async fn delete_token(&self, id: &str, actor: &AuditActor) -> StoreResult<Token> {
        let now = self.now_ms();
        let mut tx = self.begin_write().await?;
        let token = fetch_token(&mut tx, id, &self.lock_rows("t"))
            .await?
            .ok_or(StoreError::NotFound)?;
        if !delete_token_rows(&mut tx, id).await? {
            return Err(StoreError::NotFound);
        }
        let event = audit_event(AuditAction::TokenDeleted, actor, id, &token.name);
        record_event(&mut tx, &event, now).await?;
        let changes = [Change::Token(id.to_string())];
        self.publish(&mut tx, &changes).await?;
        self.commit(tx, &changes).await?;
        Ok(token)
    }

    /// Deletes every token in `ids` in one transaction, or none of them:
    /// `check` sees each token as stored (locked) and may refuse it, with a
    /// reason (`Some`) or as if it did not exist (`None`: the caller may not
    /// see it), and an id with no token is refused too (`BulkRefused`,
    /// naming each). One
    /// audit event per token, every secret answering 401 at once.
    pub async fn delete_tokens(
        &self,
        ids: &[String],
        check: impl Fn(&Token) -> Result<(), Option<String>>,
        actor: &AuditActor,
    ) -> StoreResult<Vec<Token>> {
        let now = self.now_ms();
        let mut tx = self.begin_write().await?;
        let in_list = |sql: &mut Sql| {
            sql.push("(");
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind_text(id);
            }
            sql.push(")");
        };
        // Locked in id order, like every token write, so that concurrent
        // writers queue rather than deadlock.
        let mut select = Sql::new(format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens t JOIN members m ON m.id = t.member_id \
             WHERE t.id IN "
        ));
        in_list(&mut select);
        select.push(" ORDER BY t.id").push(&self.lock_rows("t"));
        let tokens = select
            .query()
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(token_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let mut refused: Vec<String> = ids
            .iter()
            .filter(|id| !tokens.iter().any(|t| &t.id == *id))
            .map(|id| format!("{id}: no such token"))
            .collect();
        for token in &tokens {
            match check(token) {
                Ok(()) => {}
                Err(Some(why)) => refused.push(format!("{}: {why}", token.name)),
                Err(None) => refused.push(format!("{}: no such token", token.id)),
            }
        }
        if !refused.is_empty() {
            return Err(StoreError::BulkRefused(refused));
        }
        for table_and_column in ["token_secrets WHERE token_id", "tokens WHERE id"] {
            let mut delete = Sql::new(format!("DELETE FROM {table_and_column} IN "));
            in_list(&mut delete);
            delete.query().execute(&mut *tx).await?;
        }
        let events: Vec<NewAuditEvent<'_>> = tokens
            .iter()
            .map(|t| NewAuditEvent {
                detail: Some(format!("one of {} deleted together", tokens.len())),
                ..audit_event(AuditAction::TokenDeleted, actor, &t.id, &t.name)
            })
            .collect();
        record_events(&mut tx, &events, now).await?;
        let changes: Vec<Change> = tokens.iter().map(|t| Change::Token(t.id.clone())).collect();
        self.publish(&mut tx, &changes).await?;
        self.commit(tx, &changes).await?;
        Ok(tokens)
    }
}
