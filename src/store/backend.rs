//! The one interface the two databases implement: what differs between
//! SQLite and PostgreSQL. Everything else (every table's SQL) is shared.

use std::fmt;

use async_trait::async_trait;
use sqlx::AnyConnection;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

use super::{Change, Store, StoreResult};

/// What `tell_servers` achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Told {
    /// The running server applied the change before this returned.
    Applied,
    /// Every running instance applies it on its next request.
    Notified,
    /// No server is running on this database.
    NoServer,
    /// A server seems to run but did not confirm; it applies the change
    /// within a second by itself.
    Unconfirmed(String),
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

impl BackendKind {
    /// Chosen by the URL's scheme.
    pub fn of_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(BackendKind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(BackendKind::Postgres)
        } else {
            anyhow::bail!(
                "unsupported database URL {:?}: use sqlite://FILE or postgres://USER@HOST/DATABASE",
                super::redact(url)
            )
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Sqlite => "SQLite",
            BackendKind::Postgres => "PostgreSQL",
        })
    }
}

#[async_trait]
pub(crate) trait Backend: Send + Sync + 'static {
    fn kind(&self) -> BackendKind;

    /// The URL the pool connects with.
    fn connect_url(&self, url: &str) -> anyhow::Result<String>;

    /// Pool settings: size, timeouts, per-connection setup.
    fn pool_options(&self, options: AnyPoolOptions) -> AnyPoolOptions;

    /// Settings for the writers' own pool (see `writer_connections`).
    fn writer_pool_options(&self, options: AnyPoolOptions) -> AnyPoolOptions {
        self.pool_options(options)
    }

    /// `Some(n)`: write transactions get a pool of their own with `n`
    /// connections; `None`: they share the readers' pool.
    fn writer_connections(&self) -> Option<u32>;

    /// Brings the schema up to date; safe when several processes start at
    /// once.
    async fn migrate(&self, pool: &AnyPool) -> anyhow::Result<()>;

    /// Loads the credential index and starts following other processes'
    /// changes. Returns once the index is live.
    async fn start(&self, store: &Store) -> StoreResult<()>;

    /// One sync round: when it returns `Ok`, every change committed anywhere
    /// before the round began is in this process's index.
    async fn sync_round(&self, store: &Store) -> StoreResult<()>;

    /// Whether API authentication must wait for a sync round before it
    /// answers from the index (other serving processes may have written).
    fn syncs_per_request(&self) -> bool;

    /// Claims the database for serving from this process (`latchkey
    /// serve`), refusing when that cannot be done safely.
    async fn claim_serving(&self, store: &Store) -> anyhow::Result<()>;

    /// After a change from the command line: has every running server
    /// apply it now, and says how that went.
    async fn tell_servers(&self) -> Told;

    /// Records inside the write transaction `conn` that `change` happened
    /// at `at_ms`, for the other processes (delivered when the transaction
    /// commits).
    async fn publish(
        &self,
        conn: &mut AnyConnection,
        instance: &str,
        change: &Change,
        at_ms: i64,
    ) -> StoreResult<()>;

    /// The statement that begins a write transaction.
    fn begin_write(&self) -> &'static str;

    /// The statement that begins a read transaction with one consistent
    /// snapshot (for loading the whole index).
    fn begin_snapshot(&self) -> &'static str;

    /// Appended to a SELECT in a write transaction to lock the rows it
    /// reads from the table aliased `alias` (`shared`: against changes
    /// only).
    fn lock_rows(&self, alias: &str, shared: bool) -> String;

    /// Whether changes from other processes are reaching this one.
    fn is_healthy(&self) -> bool;
}
