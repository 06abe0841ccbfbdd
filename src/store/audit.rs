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

/// Which events a view of the log shows; `None` parts do not narrow it.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditFilter<'a> {
    /// Events about the token (a clone counts for its source too).
    pub token_id: Option<&'a str>,
    /// Events done by the member (signed in, or through their tokens).
    pub actor_member_id: Option<&'a str>,
    pub action: Option<AuditAction>,
}

/// A recorded event, as the audit log page shows it.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub id: i64,
    pub occurred_at: i64,
    pub action: AuditAction,
    pub actor_member_id: Option<String>,
    pub actor_token_id: Option<String>,
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
    /// The current names of those of `ids` that still exist: the audit log
    /// links a token only while it does.
    pub async fn token_names(
        &self,
        ids: &[&str],
    ) -> StoreResult<std::collections::HashMap<String, String>> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let mut sql = Sql::new("SELECT id, name FROM tokens WHERE id IN (");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind_text(*id);
        }
        sql.push(")");
        let rows = sql.query().fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| Ok((row.try_get("id")?, row.try_get("name")?)))
            .collect()
    }

    /// Records an event that is not part of a larger change (sign-in, sign-out).
    pub async fn record_audit(&self, event: &NewAuditEvent<'_>) -> StoreResult<()> {
        let mut conn = self.writer().acquire().await?;
        record_event(&mut conn, event, self.now_ms()).await
    }

    /// One page of events, newest first, with the total count, narrowed
    /// as `filter` says.
    pub async fn list_audit_events(
        &self,
        filter: &AuditFilter<'_>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<AuditEvent>, i64)> {
        // Only the conditions that apply: a `$1 IS NULL OR …` filter would
        // leave PostgreSQL's generic plan scanning the whole table.
        let filter = |sql: &mut Sql| {
            let mut clause = " WHERE ";
            let mut next = || std::mem::replace(&mut clause, " AND ");
            if let Some(id) = filter.token_id {
                sql.push(next())
                    .push("(token_id = ")
                    .bind_text(id)
                    .push(" OR source_token_id = ")
                    .bind_text(id)
                    .push(")");
            }
            if let Some(id) = filter.actor_member_id {
                sql.push(next()).push("actor_member_id = ").bind_text(id);
            }
            if let Some(action) = filter.action {
                sql.push(next())
                    .push("action = ")
                    .bind_text(action.as_str());
            }
        };
        let mut count = Sql::new("SELECT COUNT(*) FROM audit_events");
        filter(&mut count);
        let total = count.query().fetch_one(self.pool()).await?.try_get(0)?;
        let mut select = Sql::new(
            "SELECT id, occurred_at, action, actor_member_id, actor_token_id, actor_email,
                    token_id, token_name,
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
                    actor_member_id: row.try_get("actor_member_id")?,
                    actor_token_id: row.try_get("actor_token_id")?,
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
