//! Faults: the database's disk fills up, or its files turn read-only, under
//! a running server. Writes are refused with a 503 that says so (pages and
//! API alike), reads go on being served, nothing is half-written, and the
//! server takes writes again as soon as the fault clears.
//!
//! The faults are real, not simulated inside the application: the SQLite
//! database lives on an ext4 file system of its own, a few MiB in a file
//! mounted through a loop device, which the test fills up or makes
//! immutable. That takes root (`mount`), which CI has; without it these
//! tests fail with the reason rather than pass untested.
//!
//! Both faults are about SQLite's files, so on PostgreSQL (whose disk this
//! test cannot fill) they are skipped: the suite's SQLite run covers them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use anyhow::{Context, bail, ensure};
use latchkey::domain::MemberRole;
use latchkey::domain::token::{TokenKind, TokenRole};
use latchkey::store::BackendKind;
use reqwest::{Client, StatusCode};
use serde_json::json;
use tempfile::TempDir;

use crate::api_helpers::ApiApp;
use crate::db::{TestDb, backend};
use crate::helpers::{HOME, OWNER_EMAIL, TestApp, TestResult, bare_client, browser, launch};
use crate::token_support::{TOKENS_URL, create, member, page_csrf, post_form};

/// An ext4 file system of its own in a loop-mounted image file, removed
/// (lazily, so open database files do not keep it busy) when dropped.
struct SmallFs {
    /// Holds the image and the mount point; removed after the unmount.
    _outer: TempDir,
    mount_point: PathBuf,
    filler: PathBuf,
    immutable: std::sync::Mutex<Vec<PathBuf>>,
}

fn run(program: &str, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("running {program}"))?;
    ensure!(
        out.status.success(),
        "{program} {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

impl SmallFs {
    fn mount(size_mib: u64) -> anyhow::Result<Self> {
        let outer = tempfile::tempdir().context("creating a directory for the image")?;
        let image = outer.path().join("fs.ext4");
        let mount_point = outer.path().join("mnt");
        std::fs::create_dir(&mount_point)?;
        std::fs::File::create(&image)?.set_len(size_mib * 1024 * 1024)?;
        let image = image.to_string_lossy().into_owned();
        // No blocks reserved for root: the filler (written as root) then
        // takes the last block, as a full disk would.
        run("mkfs.ext4", &["-q", "-F", "-m", "0", &image])?;
        run(
            "mount",
            &["-o", "loop", &image, &mount_point.to_string_lossy()],
        )
        .context(
            "mounting a loop file system for the database (this test needs root, as CI runs: \
             mount and loop devices)",
        )?;
        Ok(SmallFs {
            filler: mount_point.join("filler"),
            _outer: outer,
            mount_point,
            immutable: std::sync::Mutex::default(),
        })
    }

    fn path(&self) -> &Path {
        &self.mount_point
    }

    /// Writes a file until the file system has no block left.
    fn fill(&self) -> anyhow::Result<()> {
        let mut file = std::fs::File::create(&self.filler)?;
        // Large writes first, then block-sized ones for the remainder.
        for chunk in [vec![0x5a_u8; 256 * 1024], vec![0x5a_u8; 1024]] {
            loop {
                match file.write(&chunk) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                    Err(e) => return Err(e).context("filling the file system"),
                }
            }
        }
        file.sync_all().context("syncing the filler")?;
        let mut probe = std::fs::File::create(self.mount_point.join("probe"))?;
        ensure!(
            probe
                .write_all(&[0; 4096])
                .and_then(|()| probe.sync_all())
                .is_err(),
            "the file system still takes writes after filling it"
        );
        Ok(())
    }

    /// Frees the space `fill` took.
    fn free(&self) -> anyhow::Result<()> {
        std::fs::remove_file(&self.filler).context("removing the filler")?;
        let _ = std::fs::remove_file(self.mount_point.join("probe"));
        Ok(())
    }

    /// Marks `files` immutable. Root ignores permission bits, and a
    /// read-only remount is refused (EBUSY) while the server holds its
    /// files open for writing; ext4's immutable flag binds root too, and
    /// binds descriptors already open: a write through one fails with
    /// EPERM (SQLite: a disk I/O error), and a connection opened meanwhile
    /// opens the database read-only (SQLite: "readonly database").
    fn make_immutable(&self, files: &[PathBuf]) -> anyhow::Result<()> {
        for file in files {
            run("chattr", &["+i", &file.to_string_lossy()])?;
            self.immutable
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(file.clone());
        }
        Ok(())
    }

    fn make_writable(&self) -> anyhow::Result<()> {
        let files = std::mem::take(&mut *self.immutable.lock().unwrap_or_else(|p| p.into_inner()));
        for file in files {
            run("chattr", &["-i", &file.to_string_lossy()])?;
        }
        Ok(())
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = self.make_writable();
        // Lazily: the server's connections may still have files open; the
        // loop device goes when the last of them closes.
        let _ = run("umount", &["-l", &self.mount_point.to_string_lossy()]);
    }
}

/// A server on a database on its own small file system, with an Owner
/// signed in through the pages and an Admin service token for the API.
struct Faulty {
    fs: SmallFs,
    db_file: PathBuf,
    app: TestApp,
    api: ApiApp,
    browser: Client,
    /// The signed-in session's CSRF token.
    csrf: String,
    secret: String,
    token_id: String,
}

impl Faulty {
    async fn start() -> anyhow::Result<Self> {
        let fs = SmallFs::mount(8)?;
        let db = Arc::new(TestDb::sqlite_in(fs.path())?);
        let db_file = db.dir().context("an SQLite database")?.join("latchkey.db");
        let app = launch(db, &[(OWNER_EMAIL, MemberRole::Owner)]).await?;
        let owner = member(&app.store, OWNER_EMAIL).await?;
        let issued = create(
            &app.store,
            &owner,
            "deploy",
            TokenKind::Service,
            TokenRole::Admin,
        )
        .await?;
        let browser = browser();
        let csrf = app.sign_in(&browser, OWNER_EMAIL).await?;
        let api = ApiApp {
            addr: app.addr,
            state: app.state.clone(),
            client: bare_client(),
            db: app.store.clone(),
        };
        Ok(Faulty {
            fs,
            db_file,
            app,
            api,
            browser,
            csrf,
            secret: issued.secret,
            token_id: issued.token.id,
        })
    }

    async fn api_create(&self, name: &str) -> anyhow::Result<crate::api_helpers::Reply> {
        self.api
            .post_json(
                "tokens",
                &self.secret,
                &json!({"name": name, "serviceToken": true, "role": "reader"}),
            )
            .await
    }

    async fn page_create(&self, name: &str) -> anyhow::Result<reqwest::Response> {
        post_form(
            &self.app,
            &self.browser,
            TOKENS_URL,
            &[
                ("csrf_token", &self.csrf),
                ("name", name),
                ("description", ""),
                ("role", "reader"),
                ("api_version", "20240415"),
                ("expires", ""),
            ],
        )
        .await
    }

    async fn token_names(&self) -> anyhow::Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT name FROM tokens ORDER BY created_at, name")
                .fetch_all(self.app.store.sql())
                .await?,
        )
    }

    /// While the fault lasts: both front doors refuse a create with a 503
    /// saying why, and serve what is stored; nothing is half-written.
    async fn assert_writes_refused_reads_served(&self, fault: &str) -> TestResult {
        let before = self.token_names().await?;

        let reply = self.api_create("during the fault").await?;
        assert_eq!(
            reply.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{fault}: {}",
            reply.text()
        );
        assert!(reply.headers.contains_key("retry-after"), "{fault}");
        let body = reply.json()?;
        assert_eq!(body["code"], "unavailable", "{fault}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("cannot save changes") && message.contains("nothing was changed"),
            "{fault}: {message}"
        );

        let res = self.page_create("during the fault").await?;
        let status = res.status();
        let retry_after = res.headers().contains_key("retry-after");
        let page = res.text().await?;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{fault}: {page}");
        assert!(retry_after, "{fault}");
        assert!(
            page.contains("Latchkey cannot save changes right now"),
            "{fault}: {page}"
        );

        // Reads: the API list, the Authorization page, API authentication.
        let reply = self.api.get("tokens", &self.secret).await?;
        assert_eq!(reply.status, StatusCode::OK, "{fault}: {}", reply.text());
        let items = reply.json()?["items"].clone();
        assert!(
            items
                .as_array()
                .is_some_and(|items| items.iter().any(|t| t["name"] == "deploy")),
            "{fault}: {items}"
        );
        let res = self.app.get(&self.browser, HOME).await?;
        assert_eq!(res.status(), StatusCode::OK, "{fault}");
        assert!(res.text().await?.contains("deploy"), "{fault}");
        let reply = self.api.get("caller-identity", &self.secret).await?;
        assert_eq!(reply.status, StatusCode::OK, "{fault}: {}", reply.text());

        // What the background flusher does every few seconds: it fails, and
        // keeps the use for later rather than dropping it.
        self.app.state.usage.flush(&self.app.state.store).await;

        assert_eq!(
            self.token_names().await?,
            before,
            "{fault}: nothing written"
        );
        Ok(())
    }

    /// Once the fault is gone: both front doors create again, the use noted
    /// during the fault reaches the database, and the file is sound.
    async fn assert_recovered(&self, fault: &str) -> TestResult {
        let reply = self.api_create("after the fault").await?;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{fault}: {}",
            reply.text()
        );
        let res = self.page_create("after the fault, from the page").await?;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{fault}");
        // The page shows the new secret once it is back on the list.
        let res = self.app.get(&self.browser, HOME).await?;
        assert_eq!(res.status(), StatusCode::OK, "{fault}");
        let page = res.text().await?;
        assert!(page.contains("after the fault, from the page"), "{fault}");
        page_csrf(&page)?;

        assert_eq!(
            self.token_names().await?,
            [
                "deploy",
                "after the fault",
                "after the fault, from the page"
            ],
            "{fault}"
        );

        self.app.state.usage.flush(&self.app.state.store).await;
        let last_used: Option<i64> =
            sqlx::query_scalar("SELECT last_used_at FROM tokens WHERE id = $1")
                .bind(&self.token_id)
                .fetch_one(self.app.store.sql())
                .await?;
        assert!(
            last_used.is_some(),
            "{fault}: the noted use was kept and written"
        );

        let check: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(self.app.store.sql())
            .await?;
        assert_eq!(check, ["ok"], "{fault}");
        Ok(())
    }

    async fn stop(self) {
        self.app.state.store.close().await;
        self.app.store.sql().close().await;
        drop(self.fs);
    }
}

/// Whether this run's backend is SQLite; these faults are SQLite's files'.
fn on_sqlite(test: &str) -> bool {
    if backend() == BackendKind::Postgres {
        eprintln!(
            "{test}: skipped on PostgreSQL; the fault is made on SQLite's own files (the \
             suite's SQLite run covers it)"
        );
        return false;
    }
    true
}

#[tokio::test]
async fn a_full_disk_refuses_writes_with_503_serves_reads_and_recovers() -> TestResult {
    if !on_sqlite("a_full_disk_refuses_writes") {
        return Ok(());
    }
    let t = Faulty::start().await?;
    // An empty write-ahead log, so that the next commit needs new blocks
    // (SQLite reuses the log's blocks after a checkpoint, so a full disk
    // only bites once the log has to grow).
    let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(t.app.store.sql())
        .await?;
    ensure!(busy == 0, "the checkpoint could not empty the log");
    t.fs.fill()?;

    t.assert_writes_refused_reads_served("disk full").await?;
    // Refusals are not a one-off: a failed write must leave the one writer
    // connection fit for the next (it once did not).
    t.assert_writes_refused_reads_served("disk still full")
        .await?;

    t.fs.free()?;
    t.assert_recovered("disk full").await?;
    t.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_read_only_database_refuses_writes_with_503_serves_reads_and_recovers() -> TestResult {
    if !on_sqlite("a_read_only_database_refuses_writes") {
        return Ok(());
    }
    let t = Faulty::start().await?;
    let mut wal = t.db_file.clone().into_os_string();
    wal.push("-wal");
    // The database and its log; not the shared-memory index, which every
    // reader writes through a mapping (as on a read-only volume, where
    // SQLite keeps that in memory).
    let files = [t.db_file.clone(), PathBuf::from(wal)];
    for file in &files {
        if !file.exists() {
            bail!("{} is missing", file.display());
        }
    }
    t.fs.make_immutable(&files)?;

    t.assert_writes_refused_reads_served("read-only").await?;

    t.fs.make_writable()?;
    t.assert_recovered("read-only").await?;
    t.stop().await;
    Ok(())
}
