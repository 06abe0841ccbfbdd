//! The PostgreSQL backend: several serving processes on one database.
//!
//! Every write sends `pg_notify` inside its transaction, naming what it
//! changed; PostgreSQL delivers notifications when (and only if) the
//! transaction commits, in commit order. Each process LISTENs on one
//! connection and re-reads what others changed into its index.
//!
//! A notification may still be in flight when a client, having seen
//! instance A's answer, asks instance B. So before answering from its
//! index, B runs a sync round: it notifies *itself* on a channel of its
//! own and waits for that notification to come back through its LISTEN
//! connection. Commit order means everything committed before the round
//! began, A's change included, has arrived and been applied by then.
//!
//! Fail closed: while the LISTEN connection is down, or a round goes
//! unanswered, rounds fail and API authentication answers 503. After
//! reconnecting, the process LISTENs first and then reloads its whole
//! index, so nothing committed while it was away is missed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use sqlx::AnyConnection;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::postgres::PgListener;
use tokio::sync::{Notify, watch};

use super::backend::{Backend, BackendKind, Told};
use super::{Change, Store, StoreError, StoreResult};

/// The channel every process's changes travel on.
const CHANGES: &str = "latchkey_changes";

/// How long a sync round waits for its own notification.
const ROUND_TIMEOUT: Duration = Duration::from_secs(2);

pub(super) struct Postgres {
    url: String,
    feed: Arc<Feed>,
}

/// What the LISTEN task and the sync rounds share.
struct Feed {
    /// The LISTEN connection is up and the index was reloaded after it
    /// connected.
    following: AtomicBool,
    /// The newest sync round whose notification came back, and whether the
    /// feed is following (a drop wakes waiting rounds at once).
    confirmed: watch::Sender<(u64, bool)>,
    next_round: AtomicU64,
    /// Counts LISTEN connections: a request to reconnect names the one it
    /// gave up on, so a stale request cannot break a newer connection.
    connection: AtomicU64,
    /// The connection a round gave up on (0: none).
    given_up_on: AtomicU64,
    /// Wakes the LISTEN task when a round gives up.
    reconnect: Notify,
}

impl Postgres {
    pub fn new(url: &str) -> Self {
        Postgres {
            url: url.to_string(),
            feed: Arc::new(Feed {
                following: AtomicBool::new(false),
                confirmed: watch::Sender::new((0, false)),
                next_round: AtomicU64::new(0),
                connection: AtomicU64::new(0),
                given_up_on: AtomicU64::new(0),
                reconnect: Notify::new(),
            }),
        }
    }
}

impl Feed {
    /// A new LISTEN connection is in use.
    fn connected(&self) {
        self.connection.fetch_add(1, Ordering::SeqCst);
        self.set_following(true);
    }

    fn set_following(&self, following: bool) {
        self.following.store(following, Ordering::SeqCst);
        self.confirmed.send_modify(|c| c.1 = following);
    }
}

/// This process's own channel for sync rounds.
fn sync_channel(instance: &str) -> String {
    format!("latchkey_sync_{instance}")
}

async fn listen(url: &str, instance: &str) -> StoreResult<PgListener> {
    let mut listener = PgListener::connect(url).await?;
    listener
        .listen_all([CHANGES, sync_channel(instance).as_str()])
        .await?;
    Ok(listener)
}

/// Applies one notification. An error means the index may have missed
/// something: the caller reconnects and reloads.
async fn handle(feed: &Feed, store: &Store, channel: &str, payload: &str) -> StoreResult<()> {
    if channel != CHANGES {
        if let Ok(round) = payload.parse::<u64>() {
            feed.confirmed.send_modify(|c| c.0 = c.0.max(round));
        }
        return Ok(());
    }
    let mut parts = payload.splitn(3, ' ');
    let (Some(instance), Some(entity), Some(id)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(StoreError::Corrupt(format!(
            "change notification {payload:?}"
        )));
    };
    if instance == store.instance() {
        return Ok(());
    }
    let Some(change) = Change::from_entity(entity, id) else {
        // A newer version of Latchkey changed something this one has no
        // name for (a rolling upgrade): re-read everything.
        tracing::warn!(payload, "unknown change notification; reloading the index");
        return store.reload_credentials().await;
    };
    store.refresh(&[change]).await
}

/// Follows the change feed for as long as the process runs, reconnecting
/// (and reloading the index) whenever the connection is lost.
async fn follow(feed: Arc<Feed>, store: Store, url: String, first: PgListener) {
    let mut listener = Some(first);
    let mut backoff = Duration::from_millis(50);
    loop {
        let mut current = match listener.take() {
            Some(l) => l,
            None => {
                let connected = async {
                    let l = listen(&url, store.instance()).await?;
                    // After LISTEN: whatever commits from now on is
                    // notified, whatever committed before is loaded.
                    store.reload_credentials().await?;
                    StoreResult::Ok(l)
                }
                .await;
                match connected {
                    Ok(l) => {
                        tracing::info!("following changes again; credential index reloaded");
                        backoff = Duration::from_millis(50);
                        feed.connected();
                        l
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "reconnecting the change feed failed; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(2));
                        continue;
                    }
                }
            }
        };
        let why = loop {
            tokio::select! {
                received = current.try_recv() => match received {
                    Ok(Some(n)) => {
                        if let Err(e) = handle(&feed, &store, n.channel(), n.payload()).await {
                            break format!("applying a change failed: {e}");
                        }
                    }
                    Ok(None) => break "the connection was lost".to_string(),
                    Err(e) => break format!("receiving failed: {e}"),
                },
                () = feed.reconnect.notified() => {
                    let current = feed.connection.load(Ordering::SeqCst);
                    if feed.given_up_on.load(Ordering::SeqCst) == current {
                        break "a sync round went unanswered".to_string();
                    }
                }
            }
        };
        feed.set_following(false);
        tracing::warn!(reason = %why, "stopped following changes; API authentication answers 503 until reconnected");
    }
}

#[async_trait]
impl Backend for Postgres {
    fn kind(&self) -> BackendKind {
        BackendKind::Postgres
    }

    fn connect_url(&self, url: &str) -> anyhow::Result<String> {
        Ok(url.to_string())
    }

    fn pool_options(&self, options: AnyPoolOptions) -> AnyPoolOptions {
        // Fail fast while the database is down: a request waits at most
        // this long for a connection before it gets a 503.
        options
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(3))
    }

    /// PostgreSQL runs writers side by side, locking rows, not the file.
    fn writer_connections(&self) -> Option<u32> {
        None
    }

    async fn migrate(&self, pool: &AnyPool) -> anyhow::Result<()> {
        // sqlx holds an advisory lock while it migrates, so instances that
        // start together take turns.
        sqlx::migrate!("./migrations/postgres")
            .run(pool)
            .await
            .context("applying migrations/postgres")
    }

    async fn start(&self, store: &Store) -> StoreResult<()> {
        let listener = listen(&self.url, store.instance()).await?;
        store.reload_credentials().await?;
        self.feed.connected();
        let task = tokio::spawn(follow(
            self.feed.clone(),
            store.clone(),
            self.url.clone(),
            listener,
        ));
        store.add_task(task);
        Ok(())
    }

    async fn sync_round(&self, store: &Store) -> StoreResult<()> {
        if !self.feed.following.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable(
                "not following other instances' changes".into(),
            ));
        }
        let round = self.feed.next_round.fetch_add(1, Ordering::SeqCst) + 1;
        let connection = self.feed.connection.load(Ordering::SeqCst);
        let mut confirmed = self.feed.confirmed.subscribe();
        // The whole round, sending included, within the timeout: a
        // connection that hangs (a partition, no reset) must not stall
        // every request behind it.
        let back = tokio::time::timeout(ROUND_TIMEOUT, async {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(sync_channel(store.instance()))
                .bind(round.to_string())
                .execute(store.pool())
                .await?;
            let seen = confirmed
                .wait_for(|(seen, following)| *seen >= round || !*following)
                .await
                .map(|c| c.0 >= round)
                .unwrap_or(false);
            StoreResult::Ok(seen)
        })
        .await;
        match back {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(StoreError::Unavailable(
                "stopped following other instances' changes".into(),
            )),
            Ok(Err(e)) => Err(e),
            Err(_) => {
                self.feed.given_up_on.store(connection, Ordering::SeqCst);
                self.feed.reconnect.notify_one();
                Err(StoreError::Unavailable(
                    "a sync round went unanswered".into(),
                ))
            }
        }
    }

    fn syncs_per_request(&self) -> bool {
        true
    }

    async fn claim_serving(&self, _store: &Store) -> anyhow::Result<()> {
        // Any number of instances may serve one PostgreSQL database.
        Ok(())
    }

    async fn tell_servers(&self) -> Told {
        // The commit's notification reached every instance's LISTEN, and an
        // instance answers no API request before it has applied it.
        Told::Notified
    }

    async fn publish(
        &self,
        conn: &mut AnyConnection,
        instance: &str,
        change: &Change,
        _at_ms: i64,
    ) -> StoreResult<()> {
        let (entity, id) = change.entity();
        let payload = format!("{instance} {entity} {id}");
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANGES)
            .bind(payload)
            .execute(conn)
            .await?;
        Ok(())
    }

    fn begin_write(&self) -> &'static str {
        "BEGIN"
    }

    fn begin_snapshot(&self) -> &'static str {
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
    }

    fn lock_rows(&self, alias: &str, shared: bool) -> String {
        if shared {
            format!(" FOR SHARE OF {alias}")
        } else {
            format!(" FOR UPDATE OF {alias}")
        }
    }

    fn is_healthy(&self) -> bool {
        self.feed.following.load(Ordering::SeqCst)
    }
}
