//! Creating tokens, several at once when several are asked for at once
//! (group commit).
//!
//! Every create used to be its own transaction of six statements, each a
//! round trip to the database thread. On SQLite, where one transaction
//! writes at a time, that capped creates near 750/s however many clients
//! asked, with the machine mostly idle (`make bench`, 50 clients). Now
//! whoever finds no batch running writes everything that is waiting, up to
//! [`MAX_BATCH`], in one transaction with one multi-row statement per table:
//! the same rows, audit events and checks, a handful of round trips for the
//! whole batch. A batch that fails is retried one create at a time, so one
//! bad create never fails the others.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Row;
use tokio::sync::oneshot;

use super::audit::{NewAuditEvent, record_events};
use super::catalog::TokenRecord;
use super::sql::{Bound, Sql};
use super::tokens::{AuditActor, NewToken, Token};
use super::{Change, Store, StoreError, StoreResult, credentials, settings};
use crate::domain::audit::AuditAction;
use crate::domain::ids;
use crate::domain::token::TokenKind;

/// Creates per transaction, at most: 64 × 11 placeholders stays far below
/// both databases' limits, and a batch stays short.
const MAX_BATCH: usize = 64;

/// One create waiting for a batch.
struct Pending {
    ticket: u64,
    new: NewToken,
    actor: AuditActor,
    cloned_from: Option<String>,
    reply: oneshot::Sender<StoreResult<Token>>,
}

/// The creates waiting to be written, and the right to write them.
#[derive(Default)]
pub(crate) struct CreateQueue {
    waiting: std::sync::Mutex<Vec<Pending>>,
    writing: Arc<tokio::sync::Mutex<()>>,
    tickets: AtomicU64,
}

impl Store {
    /// Creates a token (a clone of `cloned_from`, when given) with its
    /// secret and audit event; returns it as lists show it. The
    /// organization's token policy, read in the same transaction, decides:
    /// a new token's expiry must pass it (`Invalid` otherwise), and a clone
    /// gets the expiry it gives clones (`TokenPolicy::clone_expiry`), not
    /// `new.fields.expires_at`.
    pub async fn create_token(
        &self,
        new: &NewToken,
        actor: &AuditActor,
        cloned_from: Option<&str>,
    ) -> StoreResult<Token> {
        let queue = &self.inner.creates;
        let ticket = queue.tickets.fetch_add(1, Ordering::Relaxed);
        let (reply, mut answer) = oneshot::channel();
        lock(&queue.waiting).push(Pending {
            ticket,
            new: new.clone(),
            actor: actor.clone(),
            cloned_from: cloned_from.map(str::to_string),
            reply,
        });
        loop {
            let writing = queue.writing.clone().lock_owned().await;
            match answer.try_recv() {
                Ok(result) => return result,
                Err(oneshot::error::TryRecvError::Closed) => return Err(interrupted()),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let batch: Vec<Pending> = {
                let mut waiting = lock(&queue.waiting);
                let n = waiting.len().min(MAX_BATCH);
                waiting.drain(..n).collect()
            };
            let ours = batch.iter().any(|p| p.ticket == ticket);
            // A task of its own, so that this request going away (the
            // client hung up) cannot stop a batch halfway: between its
            // commit and the index taking it in, say.
            let store = self.clone();
            tokio::spawn(async move {
                store.write_batch(batch).await;
                drop(writing);
            });
            if ours {
                return answer.await.unwrap_or_else(|_| Err(interrupted()));
            }
        }
    }

    /// Writes `batch` in one transaction and answers each create; when that
    /// fails, writes each alone.
    async fn write_batch(&self, batch: Vec<Pending>) {
        if batch.len() > 1 {
            let requests: Vec<&Pending> = batch.iter().collect();
            match self.insert_batch(&requests).await {
                Ok(results) => {
                    for (pending, result) in batch.into_iter().zip(results) {
                        let _ = pending.reply.send(result);
                    }
                    return;
                }
                Err(e) => {
                    tracing::debug!(error = %e, creates = batch.len(), "a batch of creates failed; writing each alone");
                }
            }
        }
        for pending in batch {
            let result = match self.insert_batch(&[&pending]).await {
                Ok(mut results) => results.pop().unwrap_or(Err(StoreError::NotFound)),
                Err(e) => Err(e),
            };
            let _ = pending.reply.send(result);
        }
    }

    /// One transaction for every create in `batch`: each one's own answer
    /// (a check that failed for it alone), or one error for all when the
    /// transaction failed and nothing was written.
    async fn insert_batch(&self, batch: &[&Pending]) -> StoreResult<Vec<StoreResult<Token>>> {
        let now = self.now_ms();
        let mut tx = self.begin_write().await?;

        // The same checks as ever, one statement each for the whole batch:
        // a personal token's member must still be a member (share-locked, so
        // a removal waits for this commit and then deletes the token), a
        // clone's source must still exist (locked, so a delete waits).
        let members = {
            let wanted: Vec<&str> = batch
                .iter()
                .filter(|p| p.new.kind == TokenKind::Personal)
                .map(|p| p.new.member_id.as_str())
                .collect();
            let lock = self.share_rows("m");
            existing(
                &mut tx,
                "members m",
                "m.removed_at IS NULL AND ",
                &wanted,
                &lock,
            )
            .await?
        };
        let sources = {
            let wanted: Vec<&str> = batch
                .iter()
                .filter_map(|p| p.cloned_from.as_deref())
                .collect();
            let lock = self.lock_rows("t");
            existing(&mut tx, "tokens t", "", &wanted, &lock).await?
        };
        // And the token policy, share-locked: a change to it waits for this
        // commit, or this batch waited for the change and obeys it.
        let policy = settings::read_policy(&mut tx, &self.share_rows("s")).await?;
        // Each create's id and expiry, or why it is refused.
        let mut verdicts: Vec<Result<(String, Option<i64>), StoreError>> =
            Vec::with_capacity(batch.len());
        for p in batch {
            verdicts.push(
                if p.new.kind == TokenKind::Personal && !members.contains(&p.new.member_id) {
                    Err(StoreError::Conflict(
                        "This member has been removed, so no token can be created for them".into(),
                    ))
                } else if p.cloned_from.as_ref().is_some_and(|s| !sources.contains(s)) {
                    Err(StoreError::NotFound)
                } else if p.cloned_from.is_some() {
                    Ok((ids::new_id(), policy.clone_expiry(now)))
                } else {
                    let expires_at = p.new.fields.expires_at;
                    match policy.check_expiry(expires_at, now) {
                        Ok(()) => Ok((ids::new_id(), expires_at)),
                        Err(e) => Err(StoreError::Invalid(e)),
                    }
                },
            );
        }
        let accepted: Vec<Accepted<'_>> = batch
            .iter()
            .zip(&verdicts)
            .filter_map(|(p, v)| {
                v.as_ref().ok().map(|(id, expires_at)| Accepted {
                    p,
                    id,
                    expires_at: *expires_at,
                })
            })
            .collect();
        if accepted.is_empty() {
            tx.rollback().await?;
            return Ok(verdicts
                .into_iter()
                .map(|v| v.and_then(|_| Err(StoreError::NotFound)))
                .collect());
        }

        insert_tokens(&mut tx, &accepted, now).await?;
        insert_secrets(&mut tx, &accepted, now).await?;

        let details: Vec<String> = accepted
            .iter()
            .map(|Accepted { p, .. }| {
                format!(
                    "{} {} token",
                    p.new.fields.role.label(),
                    p.new.kind.as_str()
                )
            })
            .collect();
        let events: Vec<NewAuditEvent<'_>> = accepted
            .iter()
            .zip(&details)
            .map(|(Accepted { p, id, .. }, detail)| NewAuditEvent {
                action: if p.cloned_from.is_some() {
                    AuditAction::TokenCloned
                } else {
                    AuditAction::TokenCreated
                },
                actor_member_id: p.actor.member_id.as_deref(),
                actor_token_id: p.actor.token_id.as_deref(),
                actor_email: Some(&p.actor.label),
                token_id: Some(id),
                token_name: Some(&p.new.fields.name),
                source_token_id: p.cloned_from.as_deref(),
                client_ip: p.actor.client_ip.clone(),
                detail: Some(detail.clone()),
            })
            .collect();
        record_events(&mut tx, &events, now).await?;
        let changes: Vec<Change> = accepted
            .iter()
            .map(|a| Change::Token(a.id.to_string()))
            .collect();
        self.publish(&mut tx, &changes).await?;

        // What was just written, as a re-read would find it (the tests
        // compare the two).
        let fresh: Vec<(String, credentials::StoredToken)> = accepted
            .iter()
            .map(|a| (a.id.to_string(), stored(a, now)))
            .collect();
        let mut created = self.commit_created(tx, fresh).await?.into_iter();
        Ok(verdicts
            .into_iter()
            .map(|v| v.and_then(|_| created.next().ok_or(StoreError::NotFound)))
            .collect())
    }
}

/// A create that passed its checks: its id and the expiry it gets.
struct Accepted<'a> {
    p: &'a Pending,
    id: &'a str,
    expires_at: Option<i64>,
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn interrupted() -> StoreError {
    StoreError::Unavailable("the create was interrupted; try again".into())
}

/// Which of `ids` the table (`"members m"`, `"tokens t"`) holds where
/// `condition` (ending in `AND `, or empty) also holds, with `lock` appended.
async fn existing(
    conn: &mut sqlx::AnyConnection,
    table: &str,
    condition: &str,
    ids: &[&str],
    lock: &str,
) -> StoreResult<std::collections::HashSet<String>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let alias = &table[table.len() - 1..];
    let mut sql = Sql::new(format!(
        "SELECT {alias}.id FROM {table} WHERE {condition}{alias}.id IN ("
    ));
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind_text(*id);
    }
    // In id order, so that two batches lock rows in the same order.
    sql.push(&format!(") ORDER BY {alias}.id{lock}"));
    let rows = sql.query().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).map_err(StoreError::from))
        .collect()
}

async fn insert_tokens(
    conn: &mut sqlx::AnyConnection,
    batch: &[Accepted<'_>],
    now: i64,
) -> StoreResult<()> {
    let mut sql = Sql::new(
        "INSERT INTO tokens (id, name, name_search, description, role, kind, member_id, \
         api_version, created_at, updated_at, expires_at, last_four) VALUES ",
    );
    for (i, Accepted { p, id, expires_at }) in batch.iter().enumerate() {
        let f = &p.new.fields;
        sql.push(if i == 0 { "(" } else { ", (" });
        sql.bind_text(*id).push(", ");
        sql.bind_text(f.name.as_str()).push(", ");
        sql.bind_text(f.name.to_lowercase()).push(", ");
        sql.bind_text(f.description.as_str()).push(", ");
        sql.bind_text(f.role.as_str()).push(", ");
        sql.bind_text(p.new.kind.as_str()).push(", ");
        sql.bind_text(p.new.member_id.as_str()).push(", ");
        sql.bind_int(f.api_version).push(", ");
        sql.bind_int(now).push(", ");
        sql.bind_int(now).push(", ");
        sql.bind(Bound::OptInt(*expires_at)).push(", ");
        sql.bind_text(p.new.last_four.as_str()).push(")");
    }
    sql.query().execute(&mut *conn).await?;
    Ok(())
}

async fn insert_secrets(
    conn: &mut sqlx::AnyConnection,
    batch: &[Accepted<'_>],
    now: i64,
) -> StoreResult<()> {
    let mut sql =
        Sql::new("INSERT INTO token_secrets (digest, token_id, valid_until, created_at) VALUES ");
    for (i, Accepted { p, id, .. }) in batch.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" });
        sql.bind_text(p.new.digest.as_str()).push(", ");
        sql.bind_text(*id).push(", NULL, ");
        sql.bind_int(now).push(")");
    }
    sql.query().execute(&mut *conn).await?;
    Ok(())
}

/// The rows `insert_tokens` and `insert_secrets` wrote for one create
/// (`version` starts at the column's default, 1).
fn stored(accepted: &Accepted<'_>, now: i64) -> credentials::StoredToken {
    let Accepted { p, id, expires_at } = accepted;
    let f = &p.new.fields;
    (
        TokenRecord {
            id: id.to_string(),
            name: f.name.clone(),
            description: f.description.clone(),
            role: f.role,
            kind: p.new.kind,
            member_id: p.new.member_id.clone(),
            api_version: f.api_version,
            created_at: now,
            updated_at: now,
            last_used_at: None,
            expires_at: *expires_at,
            last_four: p.new.last_four.clone(),
            version: 1,
            suspended_at: None,
            old_secret_until: None,
            old_secret_last_used_at: None,
        },
        vec![(p.new.digest.clone(), None)],
    )
}
