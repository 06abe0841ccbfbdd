//! Everything the product keeps, behind one interface, [`Store`], on SQLite
//! or PostgreSQL.
//!
//! The SQL is written once, in portable form (`$n` placeholders, BIGINT
//! Unix-millisecond times, no vendor syntax), in the modules below, and runs
//! on sqlx's `Any` driver. What genuinely differs between the two databases
//! is the [`backend::Backend`] interface, with one implementation each in
//! `sqlite.rs` and `postgres.rs`: how to connect and migrate, how a write
//! transaction locks, and how a change made by one process reaches the
//! others.
//!
//! The store keeps an in-memory credential index (API authentication reads
//! no database) and keeps it coherent: every write names what it changed
//! ([`Change`]) inside its transaction, re-reads it into the index after it
//! commits, and the backend tells every other process. Before it answers
//! from the index, [`Store::authenticate`] waits for a sync round that
//! proves the index holds everything committed before the request arrived;
//! when that cannot be proven the store answers `Unavailable` rather than
//! trust a secret that may have been revoked.

pub mod audit;
mod backend;
mod barrier;
mod catalog;
mod creates;
pub mod credentials;
mod leaks;
pub mod members;
mod postgres;
pub mod sessions;
mod settings;
mod sql;
mod sqlite;
pub mod tokens;
pub mod uses;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

use crate::clock::Clock;
use backend::Backend;
pub use backend::{BackendKind, Told};
use barrier::Barrier;

pub use audit::{AuditEvent, AuditFilter, NewAuditEvent};
pub use members::{Member, MemberSummary};
pub use tokens::{AuditActor, Grace, NewToken, Token, TokenFields, TokenFilter};
pub use uses::{TokenUse, UseSource};

/// Errors a store operation reports to its callers.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; the message names what is taken.
    #[error("{0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    /// A change to several things at once, refused as a whole: why, for
    /// each one that could not be changed. Nothing was changed.
    #[error("refused: {}", .0.join("; "))]
    BulkRefused(Vec<String>),
    /// A rule checked inside the transaction refused the change (the
    /// organization's token policy); nothing was stored.
    #[error("{0}")]
    Invalid(crate::domain::ValidationError),
    /// The database cannot be reached, or this process cannot prove that
    /// what it holds in memory is current. Nothing was changed; try again.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database can be read but refuses writes: its disk is full or it
    /// is read-only. Nothing was changed; try again once that is fixed.
    #[error("database cannot store changes: {0}")]
    Unwritable(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// A row holds a value the code cannot read, such as an unknown role.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if sql::is_unwritable(&e) {
            StoreError::Unwritable(e.to_string())
        } else if sql::is_unavailable(&e) {
            StoreError::Unavailable(e.to_string())
        } else {
            StoreError::Database(e)
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Something a write changed, which every process's credential index must
/// re-read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A token's fields or secrets, or the token is gone.
    Token(String),
    /// A member's role, or the member is gone.
    Member(String),
    /// A sign-in session (by its stored key) changed or ended.
    Session(String),
}

impl Change {
    /// The name of what changed, and its id: how the backends write it.
    pub(crate) fn entity(&self) -> (&'static str, &str) {
        match self {
            Change::Token(id) => ("token", id),
            Change::Member(id) => ("member", id),
            Change::Session(key) => ("session", key),
        }
    }

    /// The change a backend wrote with `entity`; `None` for a name this
    /// version does not know.
    pub(crate) fn from_entity(entity: &str, id: &str) -> Option<Change> {
        let id = id.to_string();
        match entity {
            "token" => Some(Change::Token(id)),
            "member" => Some(Change::Member(id)),
            "session" => Some(Change::Session(id)),
            _ => None,
        }
    }
}

/// The database behind the product. Cheap to clone: clones share one pool,
/// one credential index and one set of background tasks.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    pool: AnyPool,
    /// Where write transactions run: on SQLite a pool of its own with one
    /// connection, on PostgreSQL the same pool.
    writer: AnyPool,
    /// Creates waiting to be written together.
    creates: creates::CreateQueue,
    backend: Box<dyn Backend>,
    index: credentials::CredentialIndex,
    /// Every token as the lists show it.
    catalog: catalog::Catalog,
    /// Sign-in sessions read recently.
    sessions: sessions::Cache,
    /// Held while the index re-reads something and applies it, so that a
    /// read that started later is never overwritten by one that started
    /// earlier.
    index_lock: tokio::sync::Mutex<()>,
    /// Single-flight sync rounds for `authenticate`.
    barrier: Barrier,
    /// One sync round at a time from `sync_now`.
    sync_lock: tokio::sync::Mutex<()>,
    clock: Clock,
    /// Names this process in the changes it publishes, so it can skip its
    /// own (it re-read them when it committed).
    instance: String,
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.inner.backend.kind())
            .field("instance", &self.inner.instance)
            .finish()
    }
}

/// How long `authenticate` waits for proof that the index is current
/// before it answers `Unavailable`.
const SYNC_TIMEOUT: Duration = Duration::from_secs(3);

impl Store {
    /// Opens the database at `url` (`sqlite://…`, created when missing, or
    /// `postgres://…`), brings its schema up to date, loads the credential
    /// index and starts following other processes' changes. Every time the
    /// store writes comes from `clock`.
    pub async fn connect(url: &str, clock: Clock) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let kind = BackendKind::of_url(url)?;
        let backend: Box<dyn Backend> = match kind {
            BackendKind::Sqlite => Box::new(sqlite::Sqlite::new(url)),
            BackendKind::Postgres => Box::new(postgres::Postgres::new(url)),
        };
        let pool = backend
            .pool_options(AnyPoolOptions::new())
            .connect(&backend.connect_url(url)?)
            .await
            .with_context(|| format!("opening the {kind} database {}", redact(url)))?;
        backend
            .migrate(&pool)
            .await
            .with_context(|| format!("running the {kind} migrations"))?;
        let writer = match backend.writer_connections() {
            Some(n) => backend
                .writer_pool_options(AnyPoolOptions::new())
                .max_connections(n)
                .connect(&backend.connect_url(url)?)
                .await
                .with_context(|| {
                    format!("opening the {kind} database {} for writes", redact(url))
                })?,
            None => pool.clone(),
        };
        let store = Store {
            inner: Arc::new(Inner {
                pool,
                writer,
                creates: creates::CreateQueue::default(),
                backend,
                index: credentials::CredentialIndex::default(),
                catalog: catalog::Catalog::default(),
                sessions: sessions::Cache::default(),
                index_lock: tokio::sync::Mutex::new(()),
                barrier: Barrier::default(),
                sync_lock: tokio::sync::Mutex::new(()),
                clock,
                instance: crate::domain::random::hex_token(8),
                tasks: std::sync::Mutex::default(),
            }),
        };
        store
            .inner
            .backend
            .start(&store)
            .await
            .context("loading the credential index")?;
        // "Last used" written by other instances reaches this one's lists
        // every few seconds (its own, as it writes them).
        let watermark = Arc::new(std::sync::atomic::AtomicI64::new(store.now_ms()));
        store.every(
            crate::usage::FLUSH_INTERVAL,
            "reading \"last used\"",
            move |store| {
                let watermark = Arc::clone(&watermark);
                async move {
                    // A margin for batches that were noted before and written after.
                    let since = watermark.load(std::sync::atomic::Ordering::SeqCst) - 60_000;
                    let newest = store.pull_last_used(since).await?;
                    watermark.fetch_max(newest, std::sync::atomic::Ordering::SeqCst);
                    Ok(())
                }
            },
        );
        if store.inner.backend.syncs_per_request() {
            let barrier = tokio::spawn({
                let store = store.clone();
                async move { store.inner.barrier.run(|| store.sync_now()).await }
            });
            store.add_task(barrier);
        }
        Ok(store)
    }

    /// Claims the database for serving from this process: on SQLite, which
    /// one process serves, a second `latchkey serve` on the same file is
    /// refused here.
    pub async fn claim_serving(&self) -> anyhow::Result<()> {
        self.inner.backend.claim_serving(self).await
    }

    /// After a change made from the command line: has every running server
    /// apply it now, and says how that went.
    pub async fn tell_servers(&self) -> backend::Told {
        self.inner.backend.tell_servers().await
    }

    /// Which database this is.
    pub fn backend(&self) -> BackendKind {
        self.inner.backend.kind()
    }

    /// The clock the store writes times from.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }

    /// For a statement that writes outside [`Store::begin_write`].
    pub(crate) fn writer(&self) -> &AnyPool {
        &self.inner.writer
    }

    pub(crate) fn instance(&self) -> &str {
        &self.inner.instance
    }

    pub(crate) fn catalog(&self) -> &catalog::Catalog {
        &self.inner.catalog
    }

    /// Runs `job` every `period` until the store closes; a failure is
    /// logged (as `what` failing) and tried again next time.
    pub(crate) fn every<F, Fut>(&self, period: Duration, what: &'static str, job: F)
    where
        F: Fn(Store) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = StoreResult<()>> + Send,
    {
        let store = self.clone();
        self.add_task(tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = job(store.clone()).await {
                    tracing::debug!(error = %e, "{what} failed; will retry");
                }
            }
        }));
    }

    pub(crate) fn add_task(&self, task: tokio::task::JoinHandle<()>) {
        self.inner
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(task);
    }

    /// A current member, from memory (once it provably holds every change
    /// committed before this call): what signed-in pages ask on every hit.
    pub async fn current_member(&self, id: &str) -> StoreResult<Option<Member>> {
        self.sync().await?;
        Ok(self.inner.catalog.member(id).map(|m| Member {
            id: id.to_string(),
            email: m.email,
            role: m.role,
            created_at: m.created_at,
        }))
    }

    /// Whether the store can serve: the database answers and, with several
    /// processes, the change feed is connected. For `/healthz`.
    pub fn is_healthy(&self) -> bool {
        self.inner.index.is_live() && self.inner.backend.is_healthy()
    }

    /// The token a secret's digest opens right now. Waits (briefly) until
    /// the index provably holds every change committed before this call;
    /// `Unavailable` when that cannot be proven.
    pub async fn authenticate(
        &self,
        digest: &str,
        now_ms: i64,
    ) -> StoreResult<Option<credentials::Authenticated>> {
        self.sync().await?;
        self.inner.index.authenticate(digest, now_ms)
    }

    /// Returns once the credential index holds every change committed
    /// anywhere before this call.
    pub async fn sync(&self) -> StoreResult<()> {
        if !self.inner.index.is_live() {
            return Err(StoreError::Unavailable(
                "the credential index is being reloaded".into(),
            ));
        }
        if !self.inner.backend.syncs_per_request() {
            return Ok(());
        }
        self.inner.barrier.wait(SYNC_TIMEOUT).await
    }

    /// Runs one sync round now (one at a time).
    pub(crate) async fn sync_now(&self) -> StoreResult<()> {
        let _one_at_a_time = self.inner.sync_lock.lock().await;
        self.inner.backend.sync_round(self).await
    }

    /// A transaction that writes. SQLite takes the write lock at its first
    /// statement (a deferred transaction that reads and then writes fails
    /// with SQLITE_BUSY_SNAPSHOT when another writer got in between);
    /// PostgreSQL locks the rows each statement touches.
    pub(crate) async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(self
            .inner
            .writer
            .begin_with(self.inner.backend.begin_write())
            .await?)
    }

    /// Appended to a SELECT inside a write transaction to lock what it reads
    /// from the table aliased `alias` until the transaction ends.
    pub(crate) fn lock_rows(&self, alias: &str) -> String {
        self.inner.backend.lock_rows(alias, false)
    }

    /// Like `lock_rows`, but shared: others may read and share-lock too,
    /// only changes wait.
    pub(crate) fn share_rows(&self, alias: &str) -> String {
        self.inner.backend.lock_rows(alias, true)
    }

    /// Records `changes` inside the write transaction `conn`, for the other
    /// processes; after the commit, call [`Store::refresh`] with the same.
    pub(crate) async fn publish(
        &self,
        conn: &mut sqlx::AnyConnection,
        changes: &[Change],
    ) -> StoreResult<()> {
        for change in changes {
            self.inner
                .backend
                .publish(conn, &self.inner.instance, change, self.now_ms())
                .await?;
        }
        Ok(())
    }

    /// Re-reads what `changes` name into the credential index.
    pub(crate) async fn refresh(&self, changes: &[Change]) -> StoreResult<()> {
        let _in_order = self.inner.index_lock.lock().await;
        for change in changes {
            match change {
                Change::Token(id) => {
                    let fresh = credentials::read_token(self.pool(), id).await?;
                    self.inner.index.put_token(
                        id,
                        fresh
                            .as_ref()
                            .map(|(t, secrets)| (credentials::auth_of(t), secrets.clone())),
                    );
                    self.inner.catalog.put_token(id, fresh.map(|(t, _)| t));
                }
                Change::Member(id) => {
                    let fresh = credentials::read_member(self.pool(), id).await?;
                    self.inner
                        .index
                        .set_member_role(id, fresh.as_ref().map(|m| m.role));
                    self.inner.catalog.put_member(id, fresh);
                }
                Change::Session(key) => self.inner.sessions.forget(key),
            }
        }
        Ok(())
    }

    /// Commits a write and re-reads what it changed into the index. The
    /// re-read happens even when the commit's answer was lost (the
    /// connection broke after the database committed): the index then holds
    /// whatever is true, rather than what this process assumed.
    pub(crate) async fn commit(
        &self,
        tx: sqlx::Transaction<'static, sqlx::Any>,
        changes: &[Change],
    ) -> StoreResult<()> {
        // In a task of its own: if the request is dropped here (the client
        // hung up, the request timed out), a delete that committed must
        // still reach the index, or the revoked secret would keep working.
        let store = self.clone();
        let changes = changes.to_vec();
        let done = tokio::spawn(async move {
            let committed = tx.commit().await;
            store.committed(&changes).await;
            committed
        });
        match done.await {
            Ok(committed) => Ok(committed?),
            Err(e) => Err(StoreError::Unavailable(format!(
                "the commit task failed: {e}"
            ))),
        }
    }

    /// Commits a write that created the tokens in `fresh` (each as written
    /// inside the transaction) and puts them into this process's index
    /// without reading them again; returns them as lists show them.
    ///
    /// The index lock is held across the commit: no refresh can start
    /// between the commit and applying `fresh`, so nothing newer is ever
    /// overwritten by it. (On SQLite the one writer connection orders
    /// commits anyway; on PostgreSQL this orders this process's creates.)
    pub(crate) async fn commit_created(
        &self,
        tx: sqlx::Transaction<'static, sqlx::Any>,
        fresh: Vec<(String, credentials::StoredToken)>,
    ) -> StoreResult<Vec<Token>> {
        let in_order = self.inner.index_lock.lock().await;
        if let Err(e) = tx.commit().await {
            // Perhaps committed after all: re-read, as every write does.
            drop(in_order);
            let changes: Vec<Change> = fresh.into_iter().map(|(id, _)| Change::Token(id)).collect();
            self.committed(&changes).await;
            return Err(e.into());
        }
        let mut created = Vec::with_capacity(fresh.len());
        for (id, (token, secrets)) in fresh {
            self.inner
                .index
                .put_token(&id, Some((credentials::auth_of(&token), secrets)));
            self.inner.catalog.put_token(&id, Some(token));
            // Still under the lock: a delete right after cannot take it
            // away before the caller has it (and its secret).
            created.push(self.inner.catalog.get(&id).ok_or(StoreError::NotFound)?);
        }
        drop(in_order);
        Ok(created)
    }

    /// After a write committed: brings this process's index up to date. A
    /// failure here must not turn a committed change into an error for the
    /// caller, so the index is marked stale instead and reloaded.
    pub(crate) async fn committed(&self, changes: &[Change]) {
        if let Err(e) = self.refresh(changes).await {
            tracing::warn!(error = %e, "re-reading a committed change failed; reloading the index");
            self.inner.index.set_live(false);
            let store = self.clone();
            tokio::spawn(async move { store.reload_until_done().await });
        }
    }

    /// Rebuilds the credential index from the database.
    pub async fn reload_credentials(&self) -> StoreResult<()> {
        let _in_order = self.inner.index_lock.lock().await;
        let snapshot = self.inner.backend.begin_snapshot();
        let (fresh, catalog) = credentials::load(self.pool(), snapshot).await?;
        self.inner.index.replace_with(fresh);
        self.inner.catalog.replace_with(catalog);
        // Whatever changed while the index could not follow, sessions too.
        self.inner.sessions.clear();
        self.inner.index.set_live(true);
        Ok(())
    }

    /// Reloads, retrying with backoff until the database answers.
    pub(crate) async fn reload_until_done(&self) {
        let mut wait = Duration::from_millis(50);
        loop {
            match self.reload_credentials().await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "reloading the credential index failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// Refreshes the query planner's statistics (after a bulk load).
    pub async fn analyze(&self) -> StoreResult<()> {
        sqlx::query("ANALYZE").execute(self.pool()).await?;
        Ok(())
    }

    /// Stops the background tasks and closes every connection (SQLite:
    /// WAL contents reach the main file).
    pub async fn close(&self) {
        let tasks =
            std::mem::take(&mut *self.inner.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for task in tasks {
            task.abort();
        }
        self.inner.writer.close().await;
        self.inner.pool.close().await;
    }
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:****{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact("postgres://app:s3cret@db:5432/latchkey"),
            "postgres://app:****@db:5432/latchkey"
        );
        assert_eq!(
            super::redact("postgres://app@db/latchkey"),
            "postgres://app@db/latchkey"
        );
        assert_eq!(
            super::redact("sqlite://latchkey.db"),
            "sqlite://latchkey.db"
        );
    }
}
