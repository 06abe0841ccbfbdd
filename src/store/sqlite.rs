//! The SQLite backend: one file, one serving process (plus the occasional
//! `latchkey member …` command). Writers take the database lock when their
//! transaction begins, so commits happen one at a time and a change log
//! with an autoincrementing id lists them in commit order; a sync round
//! reads what is new in it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, Executor, Row};

use super::backend::{Backend, BackendKind};
use super::{Change, Store, StoreResult};

/// How long change-log rows are kept: far longer than any sync round is
/// apart (a process that falls further behind reloads everything).
const KEEP_CHANGES: Duration = Duration::from_secs(60 * 60);

pub(super) struct Sqlite {
    /// The newest change-log id this process has applied.
    cursor: AtomicI64,
}

impl Sqlite {
    pub fn new() -> Self {
        Sqlite {
            cursor: AtomicI64::new(0),
        }
    }
}

#[async_trait]
impl Backend for Sqlite {
    fn kind(&self) -> BackendKind {
        BackendKind::Sqlite
    }

    fn connect_url(&self, url: &str) -> anyhow::Result<String> {
        // Create the file when it is missing, unless the URL says otherwise.
        Ok(if url.contains("mode=") {
            url.to_string()
        } else if url.contains('?') {
            format!("{url}&mode=rwc")
        } else {
            format!("{url}?mode=rwc")
        })
    }

    fn pool_options(&self, options: AnyPoolOptions) -> AnyPoolOptions {
        options
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL lets readers proceed while one writer commits;
                    // writers queue for the lock (busy timeout) instead of
                    // failing at once.
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                    )
                    .await?;
                    Ok(())
                })
            })
    }

    async fn migrate(&self, pool: &AnyPool) -> anyhow::Result<()> {
        sqlx::migrate!("./migrations/sqlite")
            .run(pool)
            .await
            .context("applying migrations/sqlite")
    }

    async fn start(&self, store: &Store) -> StoreResult<()> {
        // The cursor first: a change committed while the index loads is
        // then applied twice, which is harmless, rather than not at all.
        self.cursor
            .store(newest_change(store.pool()).await?, Ordering::SeqCst);
        store.reload_credentials().await?;
        let pruner = tokio::spawn({
            let store = store.clone();
            async move {
                let mut tick = tokio::time::interval(Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    let before = store.now_ms() - KEEP_CHANGES.as_millis() as i64;
                    if let Err(e) = sqlx::query("DELETE FROM changes WHERE created_at < $1")
                        .bind(before)
                        .execute(store.pool())
                        .await
                    {
                        tracing::debug!(error = %e, "pruning the change log failed; will retry");
                    }
                }
            }
        });
        store.add_task(pruner);
        Ok(())
    }

    async fn sync_round(&self, store: &Store) -> StoreResult<()> {
        loop {
            let cursor = self.cursor.load(Ordering::SeqCst);
            let rows = sqlx::query(
                "SELECT id, entity, entity_id, instance FROM changes
                 WHERE id > $1 ORDER BY id LIMIT 500",
            )
            .bind(cursor)
            .fetch_all(store.pool())
            .await?;
            let Some(first) = rows.first() else {
                return Ok(());
            };
            let first_id: i64 = first.try_get("id")?;
            if first_id > cursor + 1 {
                // Rows this process never saw were pruned: start over.
                tracing::info!("fell behind the change log; reloading the credential index");
                self.cursor
                    .store(newest_change(store.pool()).await?, Ordering::SeqCst);
                return store.reload_credentials().await;
            }
            let mut changes = Vec::new();
            let mut last = cursor;
            for row in &rows {
                last = row.try_get("id")?;
                let instance: String = row.try_get("instance")?;
                if instance == store.instance() {
                    continue;
                }
                let id: String = row.try_get("entity_id")?;
                let entity: String = row.try_get("entity")?;
                changes.push(match entity.as_str() {
                    "token" => Change::Token(id),
                    _ => Change::Member(id),
                });
            }
            store.refresh(&changes).await?;
            self.cursor.store(last, Ordering::SeqCst);
            if rows.len() < 500 {
                return Ok(());
            }
        }
    }

    async fn publish(
        &self,
        conn: &mut AnyConnection,
        instance: &str,
        change: &Change,
        at_ms: i64,
    ) -> StoreResult<()> {
        let (entity, id) = match change {
            Change::Token(id) => ("token", id),
            Change::Member(id) => ("member", id),
        };
        sqlx::query(
            "INSERT INTO changes (entity, entity_id, instance, created_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(entity)
        .bind(id.as_str())
        .bind(instance)
        .bind(at_ms)
        .execute(conn)
        .await?;
        Ok(())
    }

    fn begin_write(&self) -> &'static str {
        "BEGIN IMMEDIATE"
    }

    fn begin_snapshot(&self) -> &'static str {
        // WAL: a read transaction sees one snapshot from its first read.
        "BEGIN"
    }

    fn lock_rows(&self, _alias: &str) -> String {
        // The write transaction already holds the database's write lock.
        String::new()
    }

    fn is_healthy(&self) -> bool {
        true
    }
}

/// The id the newest change got, even if its row has been pruned since.
async fn newest_change(pool: &AnyPool) -> StoreResult<i64> {
    Ok(sqlx::query_scalar::<_, i64>(
        "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)",
    )
    .fetch_one(pool)
    .await?)
}
