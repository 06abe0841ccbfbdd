//! The SQLite backend: one file, one serving process (plus the occasional
//! `latchkey member …` command).
//!
//! The serving process holds an exclusive lock on `<file>.serving`, so a
//! second `latchkey serve` on the same file is refused (several instances
//! need PostgreSQL). Its own writes update its credential index as they
//! commit, so API authentication needs no database read at all.
//!
//! Writers take the database lock when their transaction begins, so commits
//! happen one at a time and a change log with an autoincrementing id lists
//! them in commit order. A command that changes something (say `member
//! remove`) then asks the server, over the Unix socket `<file>.control`, to
//! read what is new in the log, and returns once it has: the change is in
//! force on the server's very next request. The server also reads the log
//! every second, in case a command could not reach it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, Executor, Row};

use super::backend::{Backend, BackendKind, Told};
use super::{Change, Store, StoreResult};

/// How long change-log rows are kept: far longer than any sync round is
/// apart (a process that falls further behind reloads everything).
const KEEP_CHANGES: Duration = Duration::from_secs(60 * 60);

pub(super) struct Sqlite {
    /// The newest change-log id this process has applied.
    cursor: AtomicI64,
    /// The database file (`None` for an in-memory database).
    file: Option<PathBuf>,
    /// The serving lock, held for as long as this process serves.
    serving: Mutex<Option<std::fs::File>>,
    /// Whether the writer connection was opened read-only (see
    /// `writer_pool_options`); there is one writer connection, so one flag.
    writer_read_only: Arc<AtomicBool>,
}

impl Sqlite {
    pub fn new(url: &str) -> Self {
        Sqlite {
            cursor: AtomicI64::new(0),
            file: database_file(url),
            serving: Mutex::new(None),
            writer_read_only: Arc::default(),
        }
    }

    /// `<file><suffix>`, next to the file itself (through any symlink, so
    /// that every path to one database finds the same lock and socket).
    fn sibling(&self, suffix: &str) -> Option<PathBuf> {
        self.file.as_ref().map(|f| {
            let real = std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
            let mut name = real.into_os_string();
            name.push(suffix);
            PathBuf::from(name)
        })
    }

    /// Whether some process holds the serving lock right now.
    fn someone_serves(&self) -> bool {
        let Some(lock_path) = self.sibling(".serving") else {
            return false;
        };
        match std::fs::File::open(&lock_path) {
            // Taken and let go at once when free: nothing serves.
            Ok(file) => file.try_lock_shared().is_err(),
            Err(_) => false,
        }
    }
}

/// The file a `sqlite:` URL names (`sqlite://a/b.db?mode=rwc` → `a/b.db`).
fn database_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| PathBuf::from(path))
}

/// Serves `sync` requests from `latchkey member …` commands on the control
/// socket: reads the change log, then answers `ok`.
async fn control(listener: tokio::net::UnixListener, store: Store) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    // A few requests at a time is plenty for an operator's commands; more
    // wait their turn rather than pile up.
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(4));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let store = store.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            let read = tokio::time::timeout(
                Duration::from_secs(5),
                BufReader::new(read.take(64)).read_line(&mut line),
            )
            .await;
            let answer = match read {
                Ok(Ok(_)) if line.trim() == "sync" => match store.sync_now().await {
                    Ok(()) => "ok\n".to_string(),
                    Err(e) => format!("error {e}\n"),
                },
                _ => "error unknown request\n".to_string(),
            };
            let _ = write.write_all(answer.as_bytes()).await;
        });
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
            .after_connect(|conn, _| Box::pin(set_up(conn)))
            .before_acquire(|conn, _| Box::pin(async move { Ok(!lost_transaction(conn)) }))
    }

    fn writer_pool_options(&self, options: AnyPoolOptions) -> AnyPoolOptions {
        // SQLite opens a file it may not write (an immutable file, a
        // read-only volume) read-only without a word, and the connection
        // stays read-only after write access returns. So a new writer
        // connection is tried (`set_up_writer`); one that cannot write is still handed out, so the write that asked fails
        // at once with SQLite's own "readonly" (503, saying so), but it is
        // closed before the next write, which opens a fresh one: writes
        // resume as soon as the files can be written again. Failing the
        // connect instead would hold every write until the pool's timeout
        // and then say only "timed out".
        let read_only = Arc::clone(&self.writer_read_only);
        let opened_read_only = Arc::clone(&self.writer_read_only);
        self.pool_options(options)
            .after_connect(move |conn, _| {
                let read_only = Arc::clone(&read_only);
                Box::pin(async move {
                    let writable = set_up_writer(conn).await?;
                    read_only.store(!writable, Ordering::SeqCst);
                    Ok(())
                })
            })
            .before_acquire(move |conn, _| {
                let reopen = opened_read_only.load(Ordering::SeqCst) || lost_transaction(conn);
                Box::pin(async move { Ok(!reopen) })
            })
    }

    /// One writer connection. SQLite runs one write transaction at a time
    /// anyway; with several connections the losers of `BEGIN IMMEDIATE`
    /// sleep in SQLite's busy handler (1 to 100 ms steps), which capped
    /// creates at ~550/s with p99 700 ms under 50 clients. One connection
    /// queues writers fairly in the pool instead, and its page cache stays
    /// warm because no other connection writes behind its back.
    fn writer_connections(&self) -> Option<u32> {
        Some(1)
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
        store.every(
            Duration::from_secs(60),
            "pruning the change log",
            |store| async move {
                let before = store.now_ms() - KEEP_CHANGES.as_millis() as i64;
                sqlx::query("DELETE FROM changes WHERE created_at < $1")
                    .bind(before)
                    .execute(store.writer())
                    .await?;
                Ok(())
            },
        );
        // Copies the write-ahead log back into the database file beside
        // the writers (PASSIVE waits for nobody): measured under 50
        // concurrent creates, the automatic checkpoint inside a commit held
        // the one writer for up to 40 ms.
        store.every(
            Duration::from_secs(1),
            "checkpointing the write-ahead log",
            |store| async move {
                sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(store.pool())
                    .await?;
                Ok(())
            },
        );
        Ok(())
    }

    fn syncs_per_request(&self) -> bool {
        // Only this process serves (the serving lock), its own writes are in
        // the index when they commit, and commands tell it of theirs.
        false
    }

    async fn claim_serving(&self, store: &Store) -> anyhow::Result<()> {
        let (Some(lock_path), Some(socket_path)) =
            (self.sibling(".serving"), self.sibling(".control"))
        else {
            return Ok(());
        };
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("opening {}", lock_path.display()))?;
        if lock.try_lock().is_err() {
            anyhow::bail!(
                "another `latchkey serve` is already serving {} (it holds {}). SQLite serves \
                 from one process; to run several instances, use PostgreSQL",
                self.file
                    .as_ref()
                    .map(|f| f.display().to_string())
                    .unwrap_or_default(),
                lock_path.display()
            );
        }
        *self.serving.lock().unwrap_or_else(|p| p.into_inner()) = Some(lock);
        match bind_control_socket(&socket_path) {
            Ok(listener) => store.add_task(tokio::spawn(control(listener, store.clone()))),
            Err(e) => tracing::warn!(
                error = %format!("{e:#}"),
                socket = %socket_path.display(),
                "no control socket: changes made with `latchkey member …` apply within a second"
            ),
        }
        // The catch-all: a command that could not reach the socket.
        store.every(
            Duration::from_secs(1),
            "reading the change log",
            |store| async move { store.sync_now().await },
        );
        Ok(())
    }

    async fn tell_servers(&self) -> Told {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let Some(socket_path) = self.sibling(".control") else {
            return Told::NoServer;
        };
        let Ok(mut stream) = tokio::net::UnixStream::connect(&socket_path).await else {
            return if self.someone_serves() {
                Told::Unconfirmed("its control socket cannot be reached".into())
            } else {
                Told::NoServer
            };
        };
        let exchange = async {
            stream.write_all(b"sync\n").await?;
            let mut line = String::new();
            BufReader::new(stream).read_line(&mut line).await?;
            std::io::Result::Ok(line)
        };
        match tokio::time::timeout(Duration::from_secs(5), exchange).await {
            Ok(Ok(line)) if line.trim() == "ok" => Told::Applied,
            Ok(Ok(line)) => Told::Unconfirmed(line.trim().to_string()),
            Ok(Err(e)) => Told::Unconfirmed(e.to_string()),
            Err(_) => Told::Unconfirmed("the server did not answer within 5 s".into()),
        }
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
                match Change::from_entity(&entity, &id) {
                    Some(change) => changes.push(change),
                    None => {
                        tracing::warn!(entity, "unknown change in the log; reloading the index");
                        store.reload_credentials().await?;
                    }
                }
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
        // The serving process is the only one that reads the log, and it
        // skips its own rows: writing them would cost every write a
        // statement for nobody. Commands (which do not serve) still publish.
        if self
            .serving
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
        {
            return Ok(());
        }
        let (entity, id) = change.entity();
        sqlx::query(
            "INSERT INTO changes (entity, entity_id, instance, created_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(entity)
        .bind(id)
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

    fn lock_rows(&self, _alias: &str, _shared: bool) -> String {
        // The write transaction already holds the database's write lock.
        String::new()
    }

    fn is_healthy(&self) -> bool {
        true
    }
}

/// Whether sqlx believes `conn` is still inside a transaction when it is
/// handed out, which the pool must then close rather than reuse. That
/// happens when a write failed in a way that made SQLite roll the
/// transaction back by itself (a full disk, an I/O error on commit): the
/// ROLLBACK sqlx then sends fails ("no transaction is active"), its count of
/// open transactions stays at one, and every later `begin` on the
/// connection fails. On the one writer connection that was every write,
/// with a 500, long after the disk had room again.
fn lost_transaction(conn: &AnyConnection) -> bool {
    use sqlx::TransactionManager;
    let depth = <sqlx::Any as sqlx::Database>::TransactionManager::get_transaction_depth(conn);
    if depth != 0 {
        tracing::warn!(
            depth,
            "closing a connection left inside a failed transaction"
        );
    }
    depth != 0
}

/// Every connection's settings. WAL lets readers proceed while one writer
/// commits; writers queue for the lock (busy timeout) instead of failing at
/// once. Checkpoints run in the background (see `start`); the automatic
/// one, which would stall a commit for the whole copy and its fsync, only
/// past 40 MB of log.
async fn set_up(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    conn.execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
         PRAGMA wal_autocheckpoint = 10000;",
    )
    .await?;
    Ok(())
}

/// `set_up`, then whether the connection can write: a write that changes
/// nothing, rolled back (BEGIN IMMEDIATE alone succeeds on a read-only
/// connection, and the setup's `journal_mode` fails there, or not,
/// depending on the log's state).
async fn set_up_writer(conn: &mut AnyConnection) -> Result<bool, sqlx::Error> {
    let probe = async {
        set_up(conn).await?;
        conn.execute("BEGIN IMMEDIATE").await?;
        let wrote = conn.execute("PRAGMA user_version = 0").await.map(drop);
        conn.execute("ROLLBACK").await?;
        wrote
    }
    .await;
    match probe {
        Ok(()) => Ok(true),
        Err(e) if super::sql::is_unwritable(&e) => {
            // Whatever the probe left open; an error only says nothing was.
            let _ = conn.execute("ROLLBACK").await;
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Listens on `path`, readable and writable by this user only from the
/// start: bound under a temporary name, restricted, then moved into place.
/// Whatever socket was at `path` belongs to a server that is gone (the
/// serving lock says so); anything else there is left alone.
fn bind_control_socket(path: &std::path::Path) -> anyhow::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        anyhow::ensure!(
            meta.file_type().is_socket(),
            "{} exists and is not a socket",
            path.display()
        );
        std::fs::remove_file(path).context("removing a stale control socket")?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}", std::process::id()));
    let temporary = PathBuf::from(temporary);
    let _ = std::fs::remove_file(&temporary);
    let listener = tokio::net::UnixListener::bind(&temporary).context("binding")?;
    std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o600))
        .context("restricting")?;
    std::fs::rename(&temporary, path).context("moving into place")?;
    Ok(listener)
}

/// The id the newest change got, even if its row has been pruned since.
async fn newest_change(pool: &AnyPool) -> StoreResult<i64> {
    Ok(sqlx::query_scalar::<_, i64>(
        "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)",
    )
    .fetch_one(pool)
    .await?)
}
