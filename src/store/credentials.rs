//! An in-memory mirror of every live secret digest, the token it opens and
//! its member's role, so authenticating an API request costs a hash and a
//! map lookup instead of a database round trip.
//!
//! The mirror is write-through: every store operation that changes tokens,
//! secrets or member roles updates it right after its transaction commits,
//! before the caller answers. A deleted or reset secret therefore fails on
//! the very next request, and there is no expiring cache that could outlive a
//! delete. It mirrors what *this process* wrote (plus what was in the
//! database at start); several instances sharing one database would need
//! change notifications (PostgreSQL LISTEN/NOTIFY) before they use it.

use std::collections::HashMap;
use std::sync::RwLock;

use sqlx::{Row, SqlitePool};

use crate::domain::MemberRole;
use crate::domain::policy::TokenScope;
use crate::domain::token::{TokenKind, TokenRole};

use super::{StoreError, StoreResult, Token};

/// What authentication needs to know about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenAuth {
    pub id: String,
    pub name: String,
    pub kind: TokenKind,
    pub role: TokenRole,
    pub member_id: String,
    pub expires_at: Option<i64>,
}

/// A secret that opened a token, with the member's role at this moment.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub token: TokenAuth,
    pub member_role: MemberRole,
}

#[derive(Debug, Clone)]
struct SecretEntry {
    token_id: String,
    valid_until: Option<i64>,
}

#[derive(Debug, Default)]
struct State {
    secrets: HashMap<String, SecretEntry>,
    secrets_by_token: HashMap<String, Vec<String>>,
    tokens: HashMap<String, TokenAuth>,
    member_roles: HashMap<String, MemberRole>,
}

#[derive(Debug, Default)]
pub struct CredentialIndex {
    state: RwLock<State>,
}

impl CredentialIndex {
    /// Reads every token, secret and member role.
    pub async fn load(pool: &SqlitePool) -> StoreResult<Self> {
        let mut state = State::default();
        for row in sqlx::query("SELECT id, role FROM members")
            .fetch_all(pool)
            .await?
        {
            let role: String = row.try_get("role")?;
            let role = role
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("member role {role:?}")))?;
            state.member_roles.insert(row.try_get("id")?, role);
        }
        for row in sqlx::query("SELECT id, name, kind, role, member_id, expires_at FROM tokens")
            .fetch_all(pool)
            .await?
        {
            let kind: String = row.try_get("kind")?;
            let role: String = row.try_get("role")?;
            let token = TokenAuth {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                kind: TokenKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("token kind {kind:?}")))?,
                role: role
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("token role {role:?}")))?,
                member_id: row.try_get("member_id")?,
                expires_at: row.try_get("expires_at")?,
            };
            state.tokens.insert(token.id.clone(), token);
        }
        for row in sqlx::query("SELECT digest, token_id, valid_until FROM token_secrets")
            .fetch_all(pool)
            .await?
        {
            let digest: String = row.try_get("digest")?;
            let token_id: String = row.try_get("token_id")?;
            state
                .secrets_by_token
                .entry(token_id.clone())
                .or_default()
                .push(digest.clone());
            state.secrets.insert(
                digest,
                SecretEntry {
                    token_id,
                    valid_until: row.try_get("valid_until")?,
                },
            );
        }
        Ok(Self {
            state: RwLock::new(state),
        })
    }

    /// Takes over the contents of a freshly loaded index.
    pub fn replace_with(&self, fresh: CredentialIndex) {
        let fresh = fresh.state.into_inner().unwrap_or_else(|p| p.into_inner());
        *self.write() = fresh;
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The token a secret digest opens right now, if any: the secret is live
    /// (current, or replaced but within its grace period), the token exists
    /// and has not expired, and its member is known.
    pub fn authenticate(&self, digest: &str, now_ms: i64) -> Option<Authenticated> {
        let state = self.read();
        let secret = state.secrets.get(digest)?;
        if secret.valid_until.is_some_and(|until| until <= now_ms) {
            return None;
        }
        let token = state.tokens.get(&secret.token_id)?;
        if token.expires_at.is_some_and(|t| t <= now_ms) {
            return None;
        }
        let member_role = *state.member_roles.get(&token.member_id)?;
        Some(Authenticated {
            token: token.clone(),
            member_role,
        })
    }

    /// How many tokens `scope` holds: the list's total without filters,
    /// without a COUNT(*) that scans the whole table.
    pub fn count_tokens(&self, scope: TokenScope<'_>) -> i64 {
        let state = self.read();
        let count = match scope {
            TokenScope::Everything => state.tokens.len(),
            scope => state
                .tokens
                .values()
                .filter(|t| scope.contains(t.kind, &t.member_id))
                .count(),
        };
        i64::try_from(count).unwrap_or(i64::MAX)
    }

    pub fn set_member_role(&self, member_id: &str, role: MemberRole) {
        self.write()
            .member_roles
            .insert(member_id.to_string(), role);
    }

    /// Records a token's current fields (after create, edit or reset).
    pub fn put_token(&self, token: &Token) {
        let mut state = self.write();
        state
            .member_roles
            .insert(token.member_id.clone(), token.member_role);
        state.tokens.insert(
            token.id.clone(),
            TokenAuth {
                id: token.id.clone(),
                name: token.name.clone(),
                kind: token.kind,
                role: token.role,
                member_id: token.member_id.clone(),
                expires_at: token.expires_at,
            },
        );
    }

    /// Replaces the set of live secrets of a token.
    pub fn set_secrets(&self, token_id: &str, secrets: Vec<(String, Option<i64>)>) {
        let mut state = self.write();
        if let Some(old) = state.secrets_by_token.remove(token_id) {
            for digest in old {
                state.secrets.remove(&digest);
            }
        }
        let mut digests = Vec::with_capacity(secrets.len());
        for (digest, valid_until) in secrets {
            digests.push(digest.clone());
            state.secrets.insert(
                digest,
                SecretEntry {
                    token_id: token_id.to_string(),
                    valid_until,
                },
            );
        }
        state.secrets_by_token.insert(token_id.to_string(), digests);
    }

    /// Forgets a token and every secret of it.
    pub fn remove_token(&self, token_id: &str) {
        let mut state = self.write();
        state.tokens.remove(token_id);
        if let Some(old) = state.secrets_by_token.remove(token_id) {
            for digest in old {
                state.secrets.remove(&digest);
            }
        }
    }
}
