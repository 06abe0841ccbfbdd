//! The audit log: append-only, written in the same transaction as the change
//! it describes.

use sqlx::{AnyConnection, Row};

use super::sql::{Bound, Sql};
use super::{Store, StoreError, StoreResult};
use crate::domain::audit::AuditAction;

/// An event about to be recorded. `Default` leaves every optional part empty
/// (the action must still be set; `SignIn` is only a placeholder).
#[derive(Debug, Clone)]
pub struct NewAuditEvent<'a> {
    pub action: AuditAction,
    pub actor_member_id: Option<&'a str>,
    /// The API token the action came through.
    pub actor_token_id: Option<&'a str>,
    pub actor_email: Option<&'a str>,
    pub token_id: Option<&'a str>,
    pub token_name: Option<&'a str>,
    pub source_token_id: Option<&'a str>,
    pub client_ip: Option<String>,
    pub detail: Option<String>,
}

impl Default for NewAuditEvent<'_> {
    fn default() -> Self {
        Self {
            action: AuditAction::SignIn,
            actor_member_id: None,
            actor_token_id: None,
            actor_email: None,
            token_id: None,
            token_name: None,
            source_token_id: None,
            client_ip: None,
            detail: None,
        }
    }
}

/// A recorded event, as the audit log page shows it.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub id: i64,
    pub occurred_at: i64,
    pub action: AuditAction,
    pub actor_email: Option<String>,
    pub token_id: Option<String>,
    pub token_name: Option<String>,
    pub source_token_id: Option<String>,
    pub client_ip: Option<String>,
    pub detail: Option<String>,
}

/// Appends an event that happened at `at_ms` inside the caller's transaction.
pub async fn record_event(
    conn: &mut AnyConnection,
    event: &NewAuditEvent<'_>,
    at_ms: i64,
) -> StoreResult<()> {
    record_events(conn, std::slice::from_ref(event), at_ms).await
}

/// Appends `events`, all at `at_ms`, with one statement.
pub async fn record_events(
    conn: &mut AnyConnection,
    events: &[NewAuditEvent<'_>],
    at_ms: i64,
) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let text = |s: Option<&str>| Bound::OptText(s.map(str::to_string));
    let mut sql = Sql::new(
        "INSERT INTO audit_events (occurred_at, action, actor_member_id, actor_token_id, \
         actor_email, token_id, token_name, source_token_id, client_ip, detail) VALUES ",
    );
    for (i, e) in events.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" });
        sql.bind_int(at_ms).push(", ");
        sql.bind_text(e.action.as_str()).push(", ");
        sql.bind(text(e.actor_member_id)).push(", ");
        sql.bind(text(e.actor_token_id)).push(", ");
        sql.bind(text(e.actor_email)).push(", ");
        sql.bind(text(e.token_id)).push(", ");
        sql.bind(text(e.token_name)).push(", ");
        sql.bind(text(e.source_token_id)).push(", ");
        sql.bind(text(e.client_ip.as_deref())).push(", ");
        sql.bind(text(e.detail.as_deref())).push(")");
    }
    sql.query().execute(conn).await?;
    Ok(())
}

impl Store {
    /// Records an event that is not part of a larger change (sign-in, sign-out).
    pub async fn record_audit(&self, event: &NewAuditEvent<'_>) -> StoreResult<()> {
        let mut conn = self.writer().acquire().await?;
        record_event(&mut conn, event, self.now_ms()).await
    }

    /// One page of events, newest first, with the total count; only those
    /// about `token_id` when given (a clone counts for its source too).
    pub async fn list_audit_events(
        &self,
        token_id: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<AuditEvent>, i64)> {
        // Only the conditions that apply: a `$1 IS NULL OR …` filter would
        // leave PostgreSQL's generic plan scanning the whole table.
        let filter = |sql: &mut Sql| {
            if let Some(id) = token_id {
                sql.push(" WHERE (token_id = ")
                    .bind_text(id)
                    .push(" OR source_token_id = ")
                    .bind_text(id)
                    .push(")");
            }
        };
        let mut count = Sql::new("SELECT COUNT(*) FROM audit_events");
        filter(&mut count);
        let total = count.query().fetch_one(self.pool()).await?.try_get(0)?;
        let mut select = Sql::new(
            "SELECT id, occurred_at, action, actor_email, token_id, token_name,
                    source_token_id, client_ip, detail
             FROM audit_events",
        );
        filter(&mut select);
        select
            .push(" ORDER BY occurred_at DESC, id DESC LIMIT ")
            .bind_int(limit)
            .push(" OFFSET ")
            .bind_int(offset);
        let rows = select.query().fetch_all(self.pool()).await?;
        let events = rows
            .iter()
            .map(|row| {
                let action: String = row.try_get("action")?;
                Ok(AuditEvent {
                    id: row.try_get("id")?,
                    occurred_at: row.try_get("occurred_at")?,
                    action: AuditAction::parse(&action)
                        .ok_or_else(|| StoreError::Corrupt(format!("audit action {action:?}")))?,
                    actor_email: row.try_get("actor_email")?,
                    token_id: row.try_get("token_id")?,
                    token_name: row.try_get("token_name")?,
                    source_token_id: row.try_get("source_token_id")?,
                    client_ip: row.try_get("client_ip")?,
                    detail: row.try_get("detail")?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((events, total))
    }
}
