//! Members of the organization.

use sqlx::Row;

use super::{Store, StoreError, StoreResult, is_unique_violation};
use crate::domain::audit::AuditAction;
use crate::domain::{MemberRole, ids};
use crate::store::audit::{NewAuditEvent, record_event};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub email: String,
    pub role: MemberRole,
    pub created_at: i64,
}

fn member_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Member> {
    let role: String = row.try_get("role")?;
    Ok(Member {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        role: role
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("member role {role:?}")))?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    pub async fn count_members(&self) -> StoreResult<i64> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM members")
            .fetch_one(self.pool())
            .await?;
        Ok(count)
    }

    /// Adds a member. `email` must already be normalized and `password_hash`
    /// an Argon2 PHC string. The creation is audited in the same transaction.
    pub async fn create_member(
        &self,
        email: &str,
        role: MemberRole,
        password_hash: &str,
        actor: Option<&Member>,
    ) -> StoreResult<Member> {
        let now = self.now_ms();
        let member = Member {
            id: ids::new_id(),
            email: email.to_string(),
            role,
            created_at: now,
        };
        let _in_order = self.serialize_index_write().await;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO members (id, email, role, password_hash, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(&member.id)
        .bind(&member.email)
        .bind(role.as_str())
        .bind(password_hash)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("A member with the email {email} already exists"))
            } else {
                StoreError::Database(e)
            }
        })?;
        record_event(
            &mut tx,
            &NewAuditEvent {
                action: AuditAction::MemberCreated,
                actor_member_id: actor.map(|a| a.id.as_str()),
                actor_email: actor.map(|a| a.email.as_str()),
                detail: Some(format!("{} as {}", member.email, role.label())),
                ..NewAuditEvent::default()
            },
            now,
        )
        .await?;
        tx.commit().await?;
        self.credentials().set_member_role(&member.id, role);
        Ok(member)
    }

    /// Changes a member's role; their personal tokens follow at once.
    pub async fn set_member_role(&self, id: &str, role: MemberRole) -> StoreResult<()> {
        let _in_order = self.serialize_index_write().await;
        let result = sqlx::query("UPDATE members SET role = $1, updated_at = $2 WHERE id = $3")
            .bind(role.as_str())
            .bind(self.now_ms())
            .bind(id)
            .execute(self.pool())
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.credentials().set_member_role(id, role);
        Ok(())
    }

    pub async fn find_member(&self, id: &str) -> StoreResult<Option<Member>> {
        sqlx::query("SELECT id, email, role, created_at FROM members WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(member_from_row)
            .transpose()
    }

    /// The member with this (normalized) email and their password hash.
    pub async fn find_member_credentials(
        &self,
        email: &str,
    ) -> StoreResult<Option<(Member, String)>> {
        let row = sqlx::query(
            "SELECT id, email, role, created_at, password_hash FROM members WHERE email = $1",
        )
        .bind(email)
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(row) => {
                let member = member_from_row(&row)?;
                let hash: String = row.try_get("password_hash")?;
                Ok(Some((member, hash)))
            }
            None => Ok(None),
        }
    }
}
