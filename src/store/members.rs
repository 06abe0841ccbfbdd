//! Members of the organization. A removed member's row stays (service
//! tokens they created still name them, and the audit log links to them),
//! marked `removed_at`; it no longer signs in, counts or appears anywhere.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::audit::{NewAuditEvent, record_event};
use super::sql::is_unique_violation;
use super::tokens::delete_token_rows;
use super::{AuditActor, Change, Store, StoreError, StoreResult};
use crate::domain::audit::AuditAction;
use crate::domain::policy;
use crate::domain::{MemberRole, ids};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub email: String,
    pub role: MemberRole,
    pub created_at: i64,
}

const MEMBER_COLUMNS: &str = "id, email, role, created_at";

fn member_from_row(row: &AnyRow) -> StoreResult<Member> {
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

/// A member as the Members page and the API list them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSummary {
    pub member: Member,
    /// How many personal tokens they have (what stops working if they go).
    pub personal_tokens: i64,
    pub last_sign_in_at: Option<i64>,
}

/// An event about a member, by `actor` (`None`: the command line).
fn member_event<'a>(
    action: AuditAction,
    actor: Option<&'a AuditActor>,
    detail: String,
) -> NewAuditEvent<'a> {
    NewAuditEvent {
        action,
        actor_member_id: actor.and_then(|a| a.member_id.as_deref()),
        actor_token_id: actor.and_then(|a| a.token_id.as_deref()),
        actor_email: actor.map(|a| a.label.as_str()),
        client_ip: actor.and_then(|a| a.client_ip.clone()),
        detail: Some(detail),
        ..NewAuditEvent::default()
    }
}

impl Store {
    /// How many members there are (removed ones do not count).
    pub async fn count_members(&self) -> StoreResult<i64> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE removed_at IS NULL")
                .fetch_one(self.pool())
                .await?;
        Ok(count)
    }

    /// Adds a member (or brings back a removed one with that email, under
    /// their old id). `email` must already be normalized and
    /// `password_hash` an Argon2 PHC string. Audited in the same
    /// transaction.
    pub async fn create_member(
        &self,
        email: &str,
        role: MemberRole,
        password_hash: &str,
        actor: Option<&AuditActor>,
    ) -> StoreResult<Member> {
        let now = self.now_ms();
        let mut tx = self.begin_write().await?;
        let removed: Option<(String, i64)> = sqlx::query(&format!(
            "SELECT id, created_at FROM members m
             WHERE email = $1 AND removed_at IS NOT NULL{}",
            self.lock_rows("m")
        ))
        .bind(email)
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| Ok::<_, StoreError>((row.try_get("id")?, row.try_get("created_at")?)))
        .transpose()?;
        let member = match removed {
            Some((id, created_at)) => {
                sqlx::query(
                    "UPDATE members SET role = $1, password_hash = $2, removed_at = NULL,
                            updated_at = $3
                     WHERE id = $4",
                )
                .bind(role.as_str())
                .bind(password_hash)
                .bind(now)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
                Member {
                    id,
                    email: email.to_string(),
                    role,
                    created_at,
                }
            }
            None => {
                let member = Member {
                    id: ids::new_id(),
                    email: email.to_string(),
                    role,
                    created_at: now,
                };
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
                        StoreError::Conflict(format!(
                            "A member with the email {email} already exists"
                        ))
                    } else {
                        StoreError::from(e)
                    }
                })?;
                member
            }
        };
        record_event(
            &mut tx,
            &member_event(
                AuditAction::MemberCreated,
                actor,
                format!("{} as {}", member.email, role.label()),
            ),
            now,
        )
        .await?;
        let changes = [Change::Member(member.id.clone())];
        self.publish(&mut tx, &changes).await?;
        self.commit(tx, &changes).await?;
        Ok(member)
    }

    /// Locks the member and the organization's Owners, and checks that the
    /// change leaves an Owner (`new_role` `None`: removal).
    async fn lock_for_change(
        &self,
        tx: &mut sqlx::AnyConnection,
        id: &str,
        new_role: Option<MemberRole>,
    ) -> StoreResult<Member> {
        // The member and every Owner, locked in one statement and in id
        // order (so two changes at once queue rather than deadlock), and so
        // two Owners demoted at once cannot both see the other still there.
        let rows = sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS} FROM members m
             WHERE (id = $1 OR role = 'owner') AND removed_at IS NULL
             ORDER BY id{}",
            self.lock_rows("m")
        ))
        .bind(id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(member_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
        let owners = rows.iter().filter(|m| m.role == MemberRole::Owner).count();
        let member = rows
            .into_iter()
            .find(|m| m.id == id)
            .ok_or(StoreError::NotFound)?;
        policy::keeps_an_owner(owners as i64, member.role, new_role)
            .map_err(|d| StoreError::Conflict(d.0))?;
        Ok(member)
    }

    /// Changes a member's role; their personal tokens follow at once,
    /// in every process. Refused (`Conflict`) for the last Owner.
    pub async fn set_member_role(
        &self,
        id: &str,
        role: MemberRole,
        actor: Option<&AuditActor>,
    ) -> StoreResult<Member> {
        let now = self.now_ms();
        let mut tx = self.begin_write().await?;
        let before = self.lock_for_change(&mut tx, id, Some(role)).await?;
        sqlx::query("UPDATE members SET role = $1, updated_at = $2 WHERE id = $3")
            .bind(role.as_str())
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        record_event(
            &mut tx,
            &member_event(
                AuditAction::MemberRoleChanged,
                actor,
                format!(
                    "{} from {} to {}",
                    before.email,
                    before.role.label(),
                    role.label()
                ),
            ),
            now,
        )
        .await?;
        let changes = [Change::Member(id.to_string())];
        self.publish(&mut tx, &changes).await?;
        self.commit(tx, &changes).await?;
        Ok(Member { role, ..before })
    }

    /// Removes a member: their personal tokens are deleted (each audited)
    /// and answer 401 at once, their sessions end, and they can no longer
    /// sign in. The service tokens they created keep working. Returns the
    /// member and how many tokens stopped working. Refused (`Conflict`)
    /// for the last Owner.
    pub async fn remove_member(
        &self,
        id: &str,
        actor: Option<&AuditActor>,
    ) -> StoreResult<(Member, usize)> {
        let now = self.now_ms();
        let mut tx = self.begin_write().await?;
        let member = self.lock_for_change(&mut tx, id, None).await?;
        // Locked (in id order, like every token write) before their secrets
        // are touched, so a delete or reset of one of them at the same time
        // either finishes first or waits.
        let personal: Vec<(String, String)> = sqlx::query(&format!(
            "SELECT id, name FROM tokens t WHERE member_id = $1 AND kind = 'personal'
             ORDER BY id{}",
            self.lock_rows("t")
        ))
        .bind(id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("id")?, row.try_get("name")?)))
        .collect::<StoreResult<_>>()?;
        let mut changes = vec![Change::Member(id.to_string())];
        let mut deleted = 0;
        for (token_id, name) in &personal {
            if !delete_token_rows(&mut tx, token_id).await? {
                // Deleted by someone else just before: theirs to audit.
                continue;
            }
            deleted += 1;
            let event = NewAuditEvent {
                token_id: Some(token_id),
                token_name: Some(name),
                ..member_event(
                    AuditAction::TokenDeleted,
                    actor,
                    format!("{} was removed", member.email),
                )
            };
            record_event(&mut tx, &event, now).await?;
            changes.push(Change::Token(token_id.clone()));
        }
        sqlx::query("UPDATE members SET removed_at = $1, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE member_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        record_event(
            &mut tx,
            &member_event(
                AuditAction::MemberRemoved,
                actor,
                format!(
                    "{} ({}); {deleted} personal token{} deleted",
                    member.email,
                    member.role.label(),
                    if deleted == 1 { "" } else { "s" }
                ),
            ),
            now,
        )
        .await?;
        self.publish(&mut tx, &changes).await?;
        self.commit(tx, &changes).await?;
        Ok((member, deleted))
    }

    /// Every current member, by email, with their personal token count and
    /// last sign-in.
    pub async fn list_members(&self) -> StoreResult<Vec<MemberSummary>> {
        let rows = sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS}, last_sign_in_at,
                    (SELECT COUNT(*) FROM tokens t
                     WHERE t.member_id = m.id AND t.kind = 'personal') AS personal_tokens
             FROM members m WHERE removed_at IS NULL ORDER BY email"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(MemberSummary {
                    member: member_from_row(row)?,
                    personal_tokens: row.try_get("personal_tokens")?,
                    last_sign_in_at: row.try_get("last_sign_in_at")?,
                })
            })
            .collect()
    }

    /// How many personal tokens the member has: what stops working when
    /// they are removed.
    pub async fn count_personal_tokens(&self, member_id: &str) -> StoreResult<i64> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM tokens WHERE member_id = $1 AND kind = 'personal'",
        )
        .bind(member_id)
        .fetch_one(self.pool())
        .await?;
        Ok(count)
    }

    /// A successful sign-in: remembered on the member and audited, in one
    /// transaction.
    pub async fn record_sign_in(&self, member: &Member, client_ip: String) -> StoreResult<()> {
        let now = self.now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE members SET last_sign_in_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&member.id)
            .execute(&mut *tx)
            .await?;
        record_event(
            &mut tx,
            &NewAuditEvent {
                action: AuditAction::SignIn,
                actor_member_id: Some(&member.id),
                actor_email: Some(&member.email),
                client_ip: Some(client_ip),
                ..NewAuditEvent::default()
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A current member by id.
    pub async fn find_member(&self, id: &str) -> StoreResult<Option<Member>> {
        sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS} FROM members WHERE id = $1 AND removed_at IS NULL"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(member_from_row)
        .transpose()
    }

    /// A current member by (normalized) email.
    pub async fn find_member_by_email(&self, email: &str) -> StoreResult<Option<Member>> {
        Ok(self.find_member_credentials(email).await?.map(|(m, _)| m))
    }

    /// The current member with this (normalized) email and their password
    /// hash.
    pub async fn find_member_credentials(
        &self,
        email: &str,
    ) -> StoreResult<Option<(Member, String)>> {
        let row = sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS}, password_hash FROM members
             WHERE email = $1 AND removed_at IS NULL"
        ))
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
