//! Revoking tokens whose secrets were reported leaked
//! (`POST /api/v2/credentials/revoke`).
//!
//! "Revoke" deletes the token, as GitHub does with a leaked token and as
//! Delete does here: every request with any of its secrets gets 401 at
//! once, on every instance. Ending only the reported secret was the
//! alternative; it was not chosen because a reported secret means that the
//! place where the token's secrets are kept has leaked, and its other live
//! secret (the new one after a reset, or the old one still in its grace
//! period) is most likely kept in the same place; and a token left without
//! a working secret would still look healthy in the list. The owner learns what
//! happened from the audit log (which secret, which token, the reporter's
//! address; never the secret) and creates a new token.

use std::collections::BTreeMap;

use sqlx::Row;

use super::audit::{NewAuditEvent, record_event};
use super::sql::Sql;
use super::tokens::delete_token_rows;
use super::{Change, Store, StoreResult};
use crate::domain::audit::AuditAction;
use crate::domain::token::TokenKind;

/// How the audit log names who revoked: nobody signed in, a report.
pub const REPORTER_LABEL: &str = "Leaked-secret report";

/// A token one of the reported secrets opens, or could open again.
struct Reported {
    name: String,
    kind: TokenKind,
    member_email: String,
    last_four: String,
    /// Whether the token's current secret was reported (rather than only a
    /// replaced one still in its grace period).
    current: bool,
}

impl Reported {
    fn detail(&self) -> String {
        let which = if self.current {
            format!("Its current secret (ending {})", self.last_four)
        } else {
            "A replaced secret still in its grace period".to_string()
        };
        let whose = match self.kind {
            TokenKind::Personal => format!("personal token of {}", self.member_email),
            TokenKind::Service => "service token".to_string(),
        };
        format!("{which} was reported leaked; the {whose} was deleted")
    }
}

impl Store {
    /// Deletes every token that one of `digests` (secret digests, in any
    /// number and state) opens now or could open again: its secret is
    /// current or within its grace period, even when the token has expired
    /// (its expiry could be extended) or its member has No access (a role
    /// could be given back). A secret past its grace period can never work
    /// again and is left alone. Each deletion is audited with the
    /// reporter's address, in one transaction whose changes reach every
    /// instance's index before this returns. Returns how many tokens were
    /// deleted (for logs only: the caller must not tell the reporter).
    ///
    /// The same statements run whatever the digests turn out to be: one
    /// lookup for all of them, in the write transaction.
    pub async fn revoke_leaked(&self, digests: &[String], client_ip: &str) -> StoreResult<usize> {
        if digests.is_empty() {
            return Ok(0);
        }
        let now = self.now_ms();
        let mut tx = self.begin_write().await?;
        let mut sql = Sql::new(
            "SELECT t.id, t.name, t.kind, t.last_four, m.email, s.valid_until
             FROM token_secrets s
             JOIN tokens t ON t.id = s.token_id
             JOIN members m ON m.id = t.member_id
             WHERE (s.valid_until IS NULL OR s.valid_until > ",
        );
        sql.bind_int(now).push(") AND s.digest IN (");
        for (i, digest) in digests.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind_text(digest.as_str());
        }
        // Locked in id order, like every write that locks several tokens.
        sql.push(") ORDER BY t.id").push(&self.lock_rows("t"));
        let rows = sql.query().fetch_all(&mut *tx).await?;
        let mut reported: BTreeMap<String, Reported> = BTreeMap::new();
        for row in &rows {
            let id: String = row.try_get("id")?;
            let current = row.try_get::<Option<i64>, _>("valid_until")?.is_none();
            if let Some(known) = reported.get_mut(&id) {
                known.current |= current;
                continue;
            }
            let kind: String = row.try_get("kind")?;
            reported.insert(
                id,
                Reported {
                    name: row.try_get("name")?,
                    kind: TokenKind::parse(&kind).ok_or_else(|| {
                        super::StoreError::Corrupt(format!("token kind {kind:?}"))
                    })?,
                    member_email: row.try_get("email")?,
                    last_four: row.try_get("last_four")?,
                    current,
                },
            );
        }
        let mut changes = Vec::with_capacity(reported.len());
        for (id, token) in &reported {
            if !delete_token_rows(&mut tx, id).await? {
                // Deleted by someone else just before: theirs to audit.
                continue;
            }
            let event = NewAuditEvent {
                action: AuditAction::TokenRevokedLeaked,
                actor_email: Some(REPORTER_LABEL),
                token_id: Some(id),
                token_name: Some(&token.name),
                client_ip: Some(client_ip.to_string()),
                detail: Some(token.detail()),
                ..NewAuditEvent::default()
            };
            record_event(&mut tx, &event, now).await?;
            changes.push(Change::Token(id.clone()));
        }
        self.publish(&mut tx, &changes).await?;
        self.commit(tx, &changes).await?;
        Ok(changes.len())
    }
}
