//! An in-memory mirror of every live secret digest, the token it opens and
//! its member's role, so authenticating an API request costs a hash and a
//! map lookup instead of a database round trip.
//!
//! The mirror is a cache that is re-read, never written from what a caller
//! believes: after a write commits, the store re-reads what it changed
//! (`Store::refresh`, one entity at a time, in order), and the backend makes
//! every other process do the same. There is no expiring entry that could
//! outlive a delete. While the mirror cannot be trusted (being reloaded),
//! it says so and authentication answers 503.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::TryStreamExt;
use sqlx::AnyPool;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::MemberRole;
use crate::domain::policy::effective_role;
use crate::domain::token::{TokenKind, TokenRole};

use super::catalog::{self, Catalog, MemberRecord, TokenRecord};
use super::{StoreError, StoreResult};

/// What authentication needs to know about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenAuth {
    pub id: String,
    pub name: String,
    pub kind: TokenKind,
    pub role: TokenRole,
    pub member_id: String,
    pub expires_at: Option<i64>,
    /// Suspended: refused like a deleted token until resumed.
    pub suspended: bool,
}

/// A secret that opened a token, and what the token may do now.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub token: TokenAuth,
    /// The effective role (`policy::effective_role`): for a personal token
    /// the lower of its role and its member's current role.
    pub role: TokenRole,
    /// The secret was replaced by a reset and works only until its grace
    /// period ends.
    pub old_secret: bool,
}

/// A token as the index holds it: its fields and its live secrets'
/// digests with the time each stops working (`None`: the current one).
pub(crate) type IndexedToken = (TokenAuth, Vec<(String, Option<i64>)>);

#[derive(Debug, Clone)]
struct SecretEntry {
    token_id: String,
    valid_until: Option<i64>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    secrets: HashMap<String, SecretEntry>,
    secrets_by_token: HashMap<String, Vec<String>>,
    tokens: HashMap<String, TokenAuth>,
    member_roles: HashMap<String, MemberRole>,
}

impl State {
    fn forget_token(&mut self, token_id: &str) {
        self.tokens.remove(token_id);
        if let Some(old) = self.secrets_by_token.remove(token_id) {
            for digest in old {
                self.secrets.remove(&digest);
            }
        }
    }

    fn put_token(&mut self, token: TokenAuth, secrets: Vec<(String, Option<i64>)>) {
        let id = token.id.clone();
        self.forget_token(&id);
        let mut digests = Vec::with_capacity(secrets.len());
        for (digest, valid_until) in secrets {
            digests.push(digest.clone());
            self.secrets.insert(
                digest,
                SecretEntry {
                    token_id: id.clone(),
                    valid_until,
                },
            );
        }
        self.secrets_by_token.insert(id.clone(), digests);
        self.tokens.insert(id, token);
    }
}

#[derive(Debug, Default)]
pub struct CredentialIndex {
    state: RwLock<State>,
    /// False until the first load, and while a reload after a failure is
    /// pending.
    live: AtomicBool,
}

impl CredentialIndex {
    /// Takes over the contents of a freshly loaded state.
    pub(crate) fn replace_with(&self, fresh: State) {
        *self.write() = fresh;
    }

    pub(crate) fn is_live(&self) -> bool {
        self.live.load(Ordering::SeqCst)
    }

    pub(crate) fn set_live(&self, live: bool) {
        self.live.store(live, Ordering::SeqCst);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The token a secret digest opens right now, if any: the secret is live
    /// (current, or replaced but within its grace period), the token exists
    /// and has not expired, and it may do something (a personal token's
    /// member is still a member, with a role above No access). A service
    /// token belongs to the organization: it works whoever created it.
    pub(crate) fn authenticate(
        &self,
        digest: &str,
        now_ms: i64,
    ) -> StoreResult<Option<Authenticated>> {
        if !self.is_live() {
            return Err(StoreError::Unavailable(
                "the credential index is being reloaded".into(),
            ));
        }
        let state = self.read();
        let found = (|| {
            let secret = state.secrets.get(digest)?;
            if secret.valid_until.is_some_and(|until| until <= now_ms) {
                return None;
            }
            let token = state.tokens.get(&secret.token_id)?;
            if token.suspended || token.expires_at.is_some_and(|t| t <= now_ms) {
                return None;
            }
            let member_role = state
                .member_roles
                .get(&token.member_id)
                .copied()
                .unwrap_or(MemberRole::NoAccess);
            let role = effective_role(token.kind, token.role, member_role)?;
            Some(Authenticated {
                token: token.clone(),
                role,
                old_secret: secret.valid_until.is_some(),
            })
        })();
        Ok(found)
    }

    /// A member's current role; `None` when they are no longer a member.
    pub(crate) fn set_member_role(&self, member_id: &str, role: Option<MemberRole>) {
        let mut state = self.write();
        match role {
            Some(role) => {
                state.member_roles.insert(member_id.to_string(), role);
            }
            None => {
                state.member_roles.remove(member_id);
            }
        }
    }

    /// A token as it now is in the database; `None` when it is gone.
    pub(crate) fn put_token(&self, token_id: &str, fresh: Option<IndexedToken>) {
        let mut state = self.write();
        match fresh {
            Some((token, secrets)) => state.put_token(token, secrets),
            None => state.forget_token(token_id),
        }
    }
}

const TOKEN_COLUMNS: &str = "t.id, t.name, t.description, t.role, t.kind, t.member_id, \
     t.api_version, t.created_at, t.updated_at, t.last_used_at, t.expires_at, t.last_four, \
     t.version, t.suspended_at, t.old_secret_last_used_at, s.digest, s.valid_until";

fn token_from_row(row: &AnyRow) -> StoreResult<TokenRecord> {
    let kind: String = row.try_get("kind")?;
    let role: String = row.try_get("role")?;
    Ok(TokenRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        kind: TokenKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("token kind {kind:?}")))?,
        role: role
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("token role {role:?}")))?,
        member_id: row.try_get("member_id")?,
        api_version: row.try_get("api_version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        last_used_at: row.try_get("last_used_at")?,
        expires_at: row.try_get("expires_at")?,
        last_four: row.try_get("last_four")?,
        version: row.try_get("version")?,
        suspended_at: row.try_get("suspended_at")?,
        // Filled in from the secrets, as `fold_row` meets them.
        old_secret_until: None,
        old_secret_last_used_at: row.try_get("old_secret_last_used_at")?,
    })
}

/// What authentication needs of a token's row.
pub(crate) fn auth_of(t: &TokenRecord) -> TokenAuth {
    TokenAuth {
        id: t.id.clone(),
        name: t.name.clone(),
        kind: t.kind,
        role: t.role,
        member_id: t.member_id.clone(),
        expires_at: t.expires_at,
        suspended: t.suspended_at.is_some(),
    }
}

/// A token's row and its live secrets, as stored now.
pub(crate) type StoredToken = (TokenRecord, Vec<(String, Option<i64>)>);

/// Folds rows of tokens joined with their secrets (a token's rows
/// together).
fn fold_tokens(rows: &[AnyRow]) -> StoreResult<Vec<StoredToken>> {
    let mut tokens: Vec<StoredToken> = Vec::new();
    for row in rows {
        fold_row(&mut tokens, row)?;
    }
    Ok(tokens)
}

/// Adds one row of a token joined with a secret to `tokens`.
fn fold_row(tokens: &mut Vec<StoredToken>, row: &AnyRow) -> StoreResult<()> {
    let id: String = row.try_get("id")?;
    if tokens.last().is_none_or(|(t, _)| t.id != id) {
        tokens.push((token_from_row(row)?, Vec::new()));
    }
    let digest: Option<String> = row.try_get("digest")?;
    if let (Some(digest), Some((token, secrets))) = (digest, tokens.last_mut()) {
        let valid_until: Option<i64> = row.try_get("valid_until")?;
        token.old_secret_until = token.old_secret_until.max(valid_until);
        secrets.push((digest, valid_until));
    }
    Ok(())
}

/// One token and its secrets, as stored now.
pub(crate) async fn read_token<'e>(
    conn: impl sqlx::Executor<'e, Database = sqlx::Any>,
    id: &str,
) -> StoreResult<Option<StoredToken>> {
    let rows = sqlx::query(&format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens t
         LEFT JOIN token_secrets s ON s.token_id = t.id
         WHERE t.id = $1"
    ))
    .bind(id)
    .fetch_all(conn)
    .await?;
    Ok(fold_tokens(&rows)?.pop())
}

fn member_from_row(row: &AnyRow) -> StoreResult<(String, MemberRecord)> {
    let role: String = row.try_get("role")?;
    Ok((
        row.try_get("id")?,
        MemberRecord {
            email: row.try_get("email")?,
            role: role
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("member role {role:?}")))?,
            created_at: row.try_get("created_at")?,
        },
    ))
}

/// A member as stored now; `None` when they were removed.
pub(crate) async fn read_member(pool: &AnyPool, id: &str) -> StoreResult<Option<MemberRecord>> {
    sqlx::query(
        "SELECT id, email, role, created_at FROM members WHERE id = $1 AND removed_at IS NULL",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?
    .map(|row| member_from_row(&row).map(|(_, m)| m))
    .transpose()
}

/// Everything, from one snapshot (`begin` starts the read transaction):
/// the credential index and the catalog.
pub(crate) async fn load(
    pool: &AnyPool,
    begin: &'static str,
) -> StoreResult<(State, catalog::State)> {
    let mut tx = pool.begin_with(begin).await?;
    let mut state = State::default();
    let mut members = HashMap::new();
    for row in
        sqlx::query("SELECT id, email, role, created_at FROM members WHERE removed_at IS NULL")
            .fetch_all(&mut *tx)
            .await?
    {
        let (id, member) = member_from_row(&row)?;
        state.member_roles.insert(id.clone(), member.role);
        members.insert(id, member);
    }
    // Row by row rather than all rows at once: at 10,000 tokens the rows
    // as the driver holds them were the largest thing the server ever
    // allocated, and the allocator keeps a peak's memory.
    let query = format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens t
         LEFT JOIN token_secrets s ON s.token_id = t.id
         ORDER BY t.id"
    );
    let mut rows = sqlx::query(&query).fetch(&mut *tx);
    let mut stored = Vec::new();
    while let Some(row) = rows.try_next().await? {
        fold_row(&mut stored, &row)?;
    }
    drop(rows);
    tx.commit().await?;
    let mut records = Vec::with_capacity(stored.len());
    for (token, secrets) in stored {
        state.put_token(auth_of(&token), secrets);
        records.push(token);
    }
    Ok((state, Catalog::build(records, members)))
}
