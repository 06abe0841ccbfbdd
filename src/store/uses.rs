//! Token uses as the lists and the details page show them: when a token was
//! last used (with a replaced secret too, while its grace period runs) and
//! from where. Written in batches by `crate::usage`, never per request.

use sqlx::Row;

use super::sql::Sql;
use super::{Change, Store, StoreResult};

/// The most distinct sources (client address and User-Agent) kept per
/// token: enough to tell "the deploy job and someone's laptop" apart, and
/// no history of where a token has been.
pub const MAX_SOURCES: usize = 5;

/// The longest User-Agent kept, in characters: more says nothing more and
/// would let one client fill the table.
pub const MAX_USER_AGENT_CHARS: usize = 200;

/// Where a token was used from, and when last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseSource {
    pub client_ip: String,
    /// Empty when the client sent none.
    pub user_agent: String,
    pub at: i64,
}

/// One token's uses since the last batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUse {
    pub token_id: String,
    /// The latest use.
    pub at: i64,
    /// The latest use with a replaced secret (in its grace period).
    pub old_secret_at: Option<i64>,
    /// The latest few distinct sources, each with its latest time.
    pub sources: Vec<UseSource>,
}

impl TokenUse {
    /// A use at `at` with the current secret, from nowhere in particular.
    pub fn at(token_id: impl Into<String>, at: i64) -> Self {
        TokenUse {
            token_id: token_id.into(),
            at,
            old_secret_at: None,
            sources: Vec::new(),
        }
    }
}

/// A source to write: the agent already cut to what is stored.
struct Source<'a> {
    token_id: &'a str,
    client_ip: &'a str,
    user_agent: &'a str,
    at: i64,
}

/// The order "Recent uses" lists a token's sources in, and keeps them by.
const RECENT_FIRST: &str = "used_at DESC, client_ip, user_agent";

/// How many sources one INSERT writes (4 placeholders each: far below
/// either database's limit).
const SOURCES_PER_INSERT: usize = 500;

impl Store {
    /// Records uses of tokens; a later time already stored wins (batches
    /// from several instances, or out of order, merge). Uses of a token
    /// deleted since are dropped.
    pub async fn record_token_use(&self, uses: &[TokenUse]) -> StoreResult<()> {
        if uses.is_empty() {
            return Ok(());
        }
        // In id order, like every other write that locks several tokens, so
        // two instances' batches queue rather than deadlock.
        let mut sorted: Vec<&TokenUse> = uses.iter().collect();
        sorted.sort_by(|a, b| a.token_id.cmp(&b.token_id));
        let mut tx = self.begin_write().await?;
        let mut noted = Vec::with_capacity(sorted.len());
        let mut changed = Vec::new();
        let mut sources: Vec<Source<'_>> = Vec::new();
        for u in sorted {
            // The update locks the token's row until commit, so a delete
            // cannot slip in before its sources are written.
            let updated = sqlx::query(
                "UPDATE tokens SET last_used_at =
                    CASE WHEN last_used_at IS NULL OR last_used_at < $1 THEN $1 ELSE last_used_at END
                 WHERE id = $2",
            )
            .bind(u.at)
            .bind(&u.token_id)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 0 {
                continue;
            }
            // An old secret's use counts only if it came after the latest
            // reset (whose new secret is the newest: one noted before a
            // second reset says nothing about the secret that reset
            // replaced), and while an old secret still works (not after
            // "End grace period now"). Times are the noting instance's:
            // with clocks apart, a use within that much of the reset can
            // be missed.
            if let Some(at) = u.old_secret_at {
                let updated = sqlx::query(
                    "UPDATE tokens SET old_secret_last_used_at = $1
                     WHERE id = $2
                       AND (old_secret_last_used_at IS NULL OR old_secret_last_used_at < $1)
                       AND $1 >= (SELECT MAX(created_at) FROM token_secrets WHERE token_id = $2)
                       AND EXISTS (SELECT 1 FROM token_secrets
                                   WHERE token_id = $2 AND valid_until IS NOT NULL)",
                )
                .bind(at)
                .bind(&u.token_id)
                .execute(&mut *tx)
                .await?;
                if updated.rows_affected() == 1 {
                    // Re-read after commit, here and on every instance, like
                    // any change: a reset committing meanwhile cannot be
                    // overwritten in memory by this older news.
                    changed.push(Change::Token(u.token_id.clone()));
                }
            }
            noted.push((u.token_id.clone(), u.at, None));
            sources.extend(u.sources.iter().map(|s| Source {
                token_id: &u.token_id,
                client_ip: &s.client_ip,
                user_agent: user_agent_kept(&s.user_agent),
                at: s.at,
            }));
        }
        // One row per (token, address, agent as stored): PostgreSQL
        // refuses an INSERT that would update the same row twice.
        sources.sort_by(|a, b| {
            (a.token_id, a.client_ip, a.user_agent, b.at).cmp(&(
                b.token_id,
                b.client_ip,
                b.user_agent,
                a.at,
            ))
        });
        sources.dedup_by(|later, kept| {
            (later.token_id, later.client_ip, later.user_agent)
                == (kept.token_id, kept.client_ip, kept.user_agent)
        });
        for chunk in sources.chunks(SOURCES_PER_INSERT) {
            let mut insert = Sql::new(
                "INSERT INTO token_uses (token_id, client_ip, user_agent, used_at) VALUES ",
            );
            for (i, s) in chunk.iter().enumerate() {
                insert.push(if i == 0 { "(" } else { ", (" });
                insert.bind_text(s.token_id).push(", ");
                insert.bind_text(s.client_ip).push(", ");
                insert.bind_text(s.user_agent).push(", ");
                insert.bind_int(s.at).push(")");
            }
            insert.push(
                " ON CONFLICT (token_id, client_ip, user_agent) DO UPDATE SET used_at =
                   CASE WHEN excluded.used_at > token_uses.used_at
                        THEN excluded.used_at ELSE token_uses.used_at END",
            );
            insert.query().execute(&mut *tx).await?;
        }
        let mut used_from: Vec<&str> = sources.iter().map(|s| s.token_id).collect();
        used_from.dedup();
        for chunk in used_from.chunks(SOURCES_PER_INSERT) {
            // All but the latest few sources of each token go (ties in the
            // order the details page lists them, so never more are kept).
            let mut prune = Sql::new("DELETE FROM token_uses WHERE token_id IN (");
            for (i, id) in chunk.iter().enumerate() {
                if i > 0 {
                    prune.push(", ");
                }
                prune.bind_text(*id);
            }
            prune.push(&format!(
                ") AND (client_ip, user_agent) NOT IN (
                   SELECT u.client_ip, u.user_agent FROM token_uses u
                   WHERE u.token_id = token_uses.token_id
                   ORDER BY {RECENT_FIRST} LIMIT {MAX_SOURCES})"
            ));
            prune.query().execute(&mut *tx).await?;
        }
        self.publish(&mut tx, &changed).await?;
        self.commit(tx, &changed).await?;
        self.catalog().note_uses(&noted);
        Ok(())
    }

    /// Where a token was used from lately, latest first (at most
    /// [`MAX_SOURCES`]).
    pub async fn recent_uses(&self, token_id: &str) -> StoreResult<Vec<UseSource>> {
        let rows = sqlx::query(&format!(
            "SELECT client_ip, user_agent, used_at FROM token_uses
             WHERE token_id = $1 ORDER BY {RECENT_FIRST} LIMIT $2"
        ))
        .bind(token_id)
        .bind(MAX_SOURCES as i64)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(UseSource {
                    client_ip: row.try_get("client_ip")?,
                    user_agent: row.try_get("user_agent")?,
                    at: row.try_get("used_at")?,
                })
            })
            .collect()
    }

    /// Takes "last used" times other instances wrote since `since` into the
    /// catalog (the latest wins), returning the newest seen.
    pub(crate) async fn pull_last_used(&self, since: i64) -> StoreResult<i64> {
        let rows: Vec<(String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT id, last_used_at, old_secret_last_used_at FROM tokens WHERE last_used_at > $1",
        )
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        let newest = rows.iter().map(|(_, at, _)| *at).max().unwrap_or(since);
        self.catalog().note_uses(&rows);
        Ok(newest)
    }
}

/// A User-Agent cut to [`MAX_USER_AGENT_CHARS`].
pub fn user_agent_kept(raw: &str) -> &str {
    match raw.char_indices().nth(MAX_USER_AGENT_CHARS) {
        Some((end, _)) => &raw[..end],
        None => raw,
    }
}
