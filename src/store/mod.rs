//! Every SQL statement lives below this module: one function per operation,
//! runtime-checked queries with `$n` placeholders so the same statements can
//! serve PostgreSQL later. A change and its audit event share a transaction.

pub mod audit;
pub mod credentials;
pub mod members;
pub mod tokens;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;

use crate::clock::Clock;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use audit::{AuditEvent, NewAuditEvent};
pub use members::Member;
pub use tokens::{AuditActor, NewToken, Token, TokenFields, TokenFilter};

/// Errors a store operation reports to its callers.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; the message names what is taken.
    #[error("{0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A row holds a value the code cannot read, such as an unknown role.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The database behind the product, with the in-memory credential index it
/// keeps in step with every write.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    credentials: std::sync::Arc<credentials::CredentialIndex>,
    /// Held by every write that updates the credential index, from its
    /// transaction through the index update, so the index applies changes
    /// in commit order (a reset finishing late must not bring back the
    /// secrets of a token deleted meanwhile). SQLite serializes writers
    /// anyway, so this costs no concurrency.
    index_writes: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// What every stored time is read from.
    clock: Clock,
}

impl Store {
    /// Opens (creating when missing) the database at `url` and brings its
    /// schema up to date. Every time the store writes comes from `clock`.
    pub async fn connect(url: &str, clock: Clock) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("parsing database URL {url:?}"))?
            .create_if_missing(true)
            // WAL lets readers proceed while one writer commits.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Writers queue for the lock instead of failing at once.
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .with_context(|| format!("opening database {url:?}"))?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .context("running database migrations")?;
        let credentials = credentials::CredentialIndex::load(&pool)
            .await
            .context("loading the credential index")?;
        Ok(Self {
            pool,
            credentials: std::sync::Arc::new(credentials),
            index_writes: std::sync::Arc::default(),
            clock,
        })
    }

    /// The clock the store writes times from.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Rebuilds the credential index from the database, for rows written
    /// behind the store's back (another process, a hand-run SQL statement).
    pub async fn reload_credentials(&self) -> StoreResult<()> {
        let _in_order = self.serialize_index_write().await;
        let fresh = credentials::CredentialIndex::load(&self.pool).await?;
        self.credentials.replace_with(fresh);
        Ok(())
    }

    /// The token a secret's digest opens right now (no database read).
    pub fn authenticate(&self, digest: &str, now_ms: i64) -> Option<credentials::Authenticated> {
        self.credentials.authenticate(digest, now_ms)
    }

    pub(crate) fn credentials(&self) -> &credentials::CredentialIndex {
        &self.credentials
    }

    /// Taken first by every write that updates the credential index.
    pub(crate) async fn serialize_index_write(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.index_writes.lock().await
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A transaction that holds the write lock from its first statement. A
    /// deferred one that reads and then writes fails at once with
    /// SQLITE_BUSY_SNAPSHOT when another writer got in between; this one
    /// waits its turn (up to the busy timeout) and then sees fresh data.
    pub(crate) async fn begin_write(
        &self,
    ) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Closes every connection, so WAL contents reach the main file.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Whether `err` is a violation of a UNIQUE constraint.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}
