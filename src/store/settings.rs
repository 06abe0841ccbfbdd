//! The organization's settings: one row, `org_settings` (id 1), holding the
//! token policy.
//!
//! Nothing here lives in memory. Every write that must obey the policy
//! (creating, cloning, giving a token a new expiry) reads it inside its own
//! transaction, share-locked (`read_policy`), and a policy change locks the
//! row for update; so on PostgreSQL a change committed on one instance binds
//! every instance's next write with no notification to wait for, and a
//! create racing a change either commits first (the token predates the
//! policy) or waits and sees the new one. On SQLite the write lock orders
//! them the same way.

use super::audit::{NewAuditEvent, record_event};
use super::tokens::AuditActor;
use super::{Store, StoreResult};
use crate::domain::audit::AuditAction;
use crate::domain::org_policy::TokenPolicy;

/// The token policy as `conn` sees it, with `lock` appended to the query
/// (`Store::share_rows` / `lock_rows` inside a write transaction). A
/// missing row, which the migration makes impossible, reads as no limit.
pub(crate) async fn read_policy(
    conn: &mut sqlx::AnyConnection,
    lock: &str,
) -> StoreResult<TokenPolicy> {
    let sql = format!("SELECT s.max_token_lifetime_days FROM org_settings s WHERE s.id = 1{lock}");
    let days: Option<Option<i64>> = sqlx::query_scalar(&sql).fetch_optional(conn).await?;
    Ok(TokenPolicy {
        max_lifetime_days: days.flatten(),
    })
}

impl Store {
    /// The token policy now in force, read from the database (so it is the
    /// one every instance enforces), for the settings page and the forms'
    /// hints.
    pub async fn token_policy(&self) -> StoreResult<TokenPolicy> {
        let mut conn = self.pool().acquire().await?;
        read_policy(&mut conn, "").await
    }

    /// Sets the token policy, audited as changed with the old and new
    /// values; returns `(before, after)`. Saving the policy already in force
    /// changes and records nothing.
    pub async fn set_token_policy(
        &self,
        policy: TokenPolicy,
        actor: &AuditActor,
    ) -> StoreResult<(TokenPolicy, TokenPolicy)> {
        let now = self.now_ms();
        let mut tx = self.begin_write().await?;
        let before = read_policy(&mut tx, &self.lock_rows("s")).await?;
        if before == policy {
            tx.rollback().await?;
            return Ok((before, policy));
        }
        sqlx::query(
            "UPDATE org_settings SET max_token_lifetime_days = $1, updated_at = $2 WHERE id = 1",
        )
        .bind(policy.max_lifetime_days)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let event = NewAuditEvent {
            action: AuditAction::TokenPolicyChanged,
            actor_member_id: actor.member_id.as_deref(),
            actor_token_id: actor.token_id.as_deref(),
            actor_email: Some(&actor.label),
            client_ip: actor.client_ip.clone(),
            detail: Some(format!(
                "Maximum lifetime for new tokens: {} → {}",
                before.label(),
                policy.label()
            )),
            ..NewAuditEvent::default()
        };
        record_event(&mut tx, &event, now).await?;
        // No change to publish: no process keeps the policy in memory.
        self.commit(tx, &[]).await?;
        Ok((before, policy))
    }
}
