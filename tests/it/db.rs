//! The database each test gets: a fresh SQLite file by default, or with
//! `LATCHKEY_TEST_BACKEND=postgres` a fresh PostgreSQL database on the
//! server `LATCHKEY_TEST_POSTGRES` names (a missing server is a failure,
//! never a skip). Tests reach the data behind the application's back
//! through their own connection (`TestStore::sql`), never the store's.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, bail};
use latchkey::store::{BackendKind, Store};
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use tempfile::TempDir;
use tokio::sync::OnceCell;

/// Which database this run of the suite uses.
pub fn backend() -> BackendKind {
    match std::env::var("LATCHKEY_TEST_BACKEND").as_deref() {
        Ok("postgres") => BackendKind::Postgres,
        Ok("sqlite") | Err(_) => BackendKind::Sqlite,
        Ok(other) => panic!("LATCHKEY_TEST_BACKEND={other:?}: use sqlite or postgres"),
    }
}

/// A test's own database; SQLite's directory is removed when this drops.
pub struct TestDb {
    pub url: String,
    /// The PostgreSQL database's name.
    pub name: Option<String>,
    dir: Option<TempDir>,
}

/// Databases this process created are named `lk_t_<pid>_<n>`.
const PREFIX: &str = "lk_t_";
static NEXT: AtomicUsize = AtomicUsize::new(0);
static CLEANED: OnceCell<()> = OnceCell::const_new();

/// The PostgreSQL server to create test databases on.
pub fn postgres_server() -> anyhow::Result<String> {
    match std::env::var("LATCHKEY_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Ok(url),
        _ => bail!(
            "LATCHKEY_TEST_BACKEND=postgres needs LATCHKEY_TEST_POSTGRES, e.g. \
             postgres://postgres@127.0.0.1:5432/test"
        ),
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| base[start..].find('/').map(|j| start + j))
        .unwrap_or(base.len());
    let mut out = format!("{}/{name}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    Ok(out)
}

/// Drops the databases of earlier runs whose process has ended.
async fn drop_stale(admin: &AnyPool) -> anyhow::Result<()> {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE 'lk\\_t\\_%'")
            .fetch_all(admin)
            .await?;
    for name in names {
        let pid = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        let alive = pid.is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(admin)
                .await
                .with_context(|| format!("dropping the stale test database {name}"))?;
        }
    }
    Ok(())
}

/// With `RUST_LOG=…`, the application's logs show under the tests'.
fn show_logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

impl TestDb {
    pub async fn new() -> anyhow::Result<Self> {
        show_logs();
        match backend() {
            BackendKind::Sqlite => {
                let dir = tempfile::tempdir().context("creating the database directory")?;
                let url = format!("sqlite://{}", dir.path().join("latchkey.db").display());
                Ok(TestDb {
                    url,
                    name: None,
                    dir: Some(dir),
                })
            }
            BackendKind::Postgres => {
                sqlx::any::install_default_drivers();
                let server = postgres_server()?;
                // One admin pool per test runtime would outlive its runtime;
                // each test opens its own short-lived connection instead.
                let admin = AnyPoolOptions::new()
                    .max_connections(1)
                    .connect(&server)
                    .await
                    .with_context(|| format!("connecting to LATCHKEY_TEST_POSTGRES ({server})"))?;
                CLEANED
                    .get_or_try_init(|| async { drop_stale(&admin).await })
                    .await?;
                let name = format!(
                    "{PREFIX}{}_{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::SeqCst)
                );
                sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                    .execute(&admin)
                    .await
                    .with_context(|| format!("creating the test database {name}"))?;
                admin.close().await;
                Ok(TestDb {
                    url: with_database(&server, &name)?,
                    name: Some(name),
                    dir: None,
                })
            }
        }
    }

    /// A fresh SQLite database in a new directory under `parent`, whatever
    /// the backend of this run: for tests of what SQLite's own files do
    /// (say, on a file system of their own).
    pub fn sqlite_in(parent: &std::path::Path) -> anyhow::Result<Self> {
        show_logs();
        let dir = tempfile::tempdir_in(parent)
            .with_context(|| format!("creating a database directory in {}", parent.display()))?;
        let url = format!("sqlite://{}", dir.path().join("latchkey.db").display());
        Ok(TestDb {
            url,
            name: None,
            dir: Some(dir),
        })
    }

    /// SQLite's directory (the database, WAL and SHM files); `None` on
    /// PostgreSQL.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(|d| d.path())
    }

    /// A connection pool of the test's own onto the same data.
    pub async fn sql(&self) -> anyhow::Result<AnyPool> {
        sqlx::any::install_default_drivers();
        AnyPoolOptions::new()
            .max_connections(2)
            .connect(&self.url)
            .await
            .with_context(|| format!("connecting to the test database {}", self.url))
    }
}

/// The application's store, plus the test's own connection to the same
/// database for looking behind its back. Derefs to the store.
#[derive(Clone)]
pub struct TestStore {
    store: Store,
    sql: AnyPool,
    pub db: Arc<TestDb>,
}

impl TestStore {
    pub async fn new(store: Store, db: Arc<TestDb>) -> anyhow::Result<Self> {
        let sql = db.sql().await?;
        Ok(TestStore { store, sql, db })
    }

    /// Raw SQL onto the test's database, bypassing the application.
    pub fn sql(&self) -> &AnyPool {
        &self.sql
    }

    /// Everything the database keeps, as named byte strings, for checking
    /// that nothing secret was stored: on SQLite every file (main, WAL,
    /// shared memory), on PostgreSQL every row of every table as text.
    pub async fn stored_bytes(&self) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        let mut out = Vec::new();
        match self.db.dir() {
            Some(dir) => {
                for entry in std::fs::read_dir(dir)? {
                    let entry = entry?;
                    if entry.file_type()?.is_file() {
                        out.push((
                            entry.file_name().to_string_lossy().into_owned(),
                            std::fs::read(entry.path())?,
                        ));
                    }
                }
            }
            None => {
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT table_name::text FROM information_schema.tables
                     WHERE table_schema = 'public'",
                )
                .fetch_all(&self.sql)
                .await?;
                for table in tables {
                    let rows: Option<String> = sqlx::query_scalar(&format!(
                        "SELECT string_agg(t::text, E'\\n') FROM \"{table}\" t"
                    ))
                    .fetch_one(&self.sql)
                    .await?;
                    out.push((table, rows.unwrap_or_default().into_bytes()));
                }
            }
        }
        Ok(out)
    }
}

impl Deref for TestStore {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.store
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_names_are_replaced() {
        assert_eq!(
            super::with_database("postgres://postgres@127.0.0.1:5432/test", "x").unwrap(),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::with_database("postgres://u@h/test?sslmode=disable", "x").unwrap(),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(
            super::with_database("postgres://u@h", "x").unwrap(),
            "postgres://u@h/x"
        );
    }
}
