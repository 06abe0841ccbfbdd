//! Sign-in sessions in the database, for tower-sessions, on both backends:
//! signed in through one instance means signed in on every instance, and
//! signing out (or being removed) ends the session everywhere. The record
//! is stored as JSON under the SHA-256 of its id (the id is the cookie: a
//! copy of the database alone must not sign anyone in); the member id is
//! kept in a column of its own so all of a member's sessions can be ended
//! at once.
//!
//! Sessions read are cached in memory, so a signed-in page costs no
//! database round trip for its session. Every write and delete publishes a
//! `Change::Session` in its transaction, which drops the cached copy in
//! every instance (and a reload drops them all).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sqlx::Row;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use super::{Change, Store, StoreError};
use crate::clock;

/// Marks a session-store error that means "database unavailable", so the
/// page layer can answer 503 rather than 500 (tower-sessions carries store
/// errors as text).
pub const UNAVAILABLE: &str = "database unavailable";

/// Marks a session-store error that means "the database refuses writes"
/// (disk full, read-only), for the same reason.
pub const UNWRITABLE: &str = "database cannot store changes";

/// The session key under which the signed-in member's id is kept.
pub const MEMBER_ID_KEY: &str = "member_id";

/// Sessions read recently, by stored key. A read that overlapped any
/// invalidation is not cached (it may hold what was just replaced).
#[derive(Debug, Default)]
pub(crate) struct Cache {
    entries: Mutex<HashMap<String, Record>>,
    /// Bumped by every invalidation.
    generation: AtomicU64,
}

/// Beyond this many cached sessions, the cache starts over.
const MAX_CACHED: usize = 50_000;

impl Cache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Record>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, key: &str) -> Option<Record> {
        self.lock().get(key).cloned()
    }

    /// Caches `record` unless something was invalidated since `generation`.
    fn put(&self, key: String, record: Record, generation: u64) {
        let mut entries = self.lock();
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        if entries.len() >= MAX_CACHED {
            entries.clear();
        }
        entries.insert(key, record);
    }

    pub(crate) fn forget(&self, key: &str) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.remove(key);
    }

    pub(crate) fn clear(&self) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.clear();
    }
}

#[derive(Clone, Debug)]
pub struct Sessions {
    store: Store,
    /// Whether the last failure was the database being unavailable.
    /// tower-sessions answers a failed save with a bare 500 of its own; the
    /// page layer asks this to answer 503 instead.
    unavailable: Arc<AtomicBool>,
    /// Whether, more precisely, it refused writes (disk full, read-only).
    unwritable: Arc<AtomicBool>,
}

impl Store {
    /// The session store tower-sessions keeps sign-ins in.
    pub fn sessions(&self) -> Sessions {
        Sessions {
            store: self.clone(),
            unavailable: Arc::default(),
            unwritable: Arc::default(),
        }
    }
}

impl Sessions {
    /// Whether the session store's latest failure was the database being
    /// unreachable (rather than a bug).
    pub fn last_failure_was_unavailable(&self) -> bool {
        self.unavailable.load(Ordering::SeqCst)
    }

    /// Whether the session store's latest failure was the database refusing
    /// writes (disk full, read-only).
    pub fn last_failure_was_unwritable(&self) -> bool {
        self.unwritable.load(Ordering::SeqCst)
    }

    fn cache(&self) -> &Cache {
        &self.store.inner.sessions
    }

    /// Runs `sql` with the record's key, member id, data and expiry as `$1`
    /// to `$4`, and publishes the change, in one transaction; whether it
    /// wrote a row. This instance's cache then holds the record as written.
    async fn write(&self, sql: &str, record: &Record) -> session_store::Result<bool> {
        let e = encode(record)?;
        let written = async {
            let mut tx = self.store.begin_write().await?;
            let done = sqlx::query(sql)
                .bind(&e.id)
                .bind(e.member_id.as_deref())
                .bind(&e.data)
                .bind(e.expires_at)
                .execute(&mut *tx)
                .await?;
            let changes = [Change::Session(e.id.clone())];
            self.store.publish(&mut tx, &changes).await?;
            self.store.commit(tx, &changes).await?;
            Ok::<_, StoreError>(done.rows_affected() == 1)
        }
        .await
        .map_err(|e| self.backend_error(e))?;
        self.succeeded();
        if written {
            let generation = self.cache().generation.load(Ordering::SeqCst);
            self.cache().put(e.id, record.clone(), generation);
        }
        Ok(written)
    }

    fn succeeded(&self) {
        self.unavailable.store(false, Ordering::SeqCst);
        self.unwritable.store(false, Ordering::SeqCst);
    }

    fn backend_error(&self, e: impl Into<StoreError>) -> session_store::Error {
        let e = e.into();
        let unwritable = matches!(e, StoreError::Unwritable(_));
        let unavailable = unwritable || matches!(e, StoreError::Unavailable(_));
        self.unwritable.store(unwritable, Ordering::SeqCst);
        self.unavailable.store(unavailable, Ordering::SeqCst);
        if unwritable {
            session_store::Error::Backend(format!("{UNWRITABLE}: {e}"))
        } else if unavailable {
            session_store::Error::Backend(format!("{UNAVAILABLE}: {e}"))
        } else {
            session_store::Error::Backend(e.to_string())
        }
    }
}

fn now_ms() -> i64 {
    // tower-sessions dates expiries by the wall clock, so they are read by
    // it too.
    clock::to_ms(time::OffsetDateTime::now_utc())
}

/// The key a session is stored under.
fn key(id: &Id) -> String {
    crate::domain::secret::digest(&id.to_string())
}

struct Encoded {
    id: String,
    member_id: Option<String>,
    data: String,
    expires_at: i64,
}

fn encode(record: &Record) -> session_store::Result<Encoded> {
    Ok(Encoded {
        id: key(&record.id),
        member_id: record
            .data
            .get(MEMBER_ID_KEY)
            .and_then(|v| v.as_str())
            .map(str::to_string),
        // The data alone: the record's id is the cookie, never stored.
        data: serde_json::to_string(&record.data)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?,
        expires_at: clock::to_ms(record.expiry_date),
    })
}

impl Sessions {
    /// Deletes sessions that have expired; run now and then.
    pub async fn delete_expired(&self) -> Result<u64, StoreError> {
        let deleted = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now_ms())
            .execute(self.store.writer())
            .await?
            .rows_affected();
        // Cached copies expire by themselves (load checks), but a cache of
        // sessions nobody uses any more is memory for nothing.
        self.cache()
            .lock()
            .retain(|_, r| clock::to_ms(r.expiry_date) > now_ms());
        Ok(deleted)
    }

    async fn read(&self, key: &str, id: &Id) -> Result<Option<Record>, StoreError> {
        let row =
            sqlx::query("SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2")
                .bind(key)
                .bind(now_ms())
                .fetch_optional(self.store.pool())
                .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let data: String = row.try_get("data")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let corrupt = |what: String| StoreError::Corrupt(what);
        Ok(Some(Record {
            id: *id,
            data: serde_json::from_str(&data).map_err(|e| corrupt(format!("session data: {e}")))?,
            expiry_date: clock::from_ms(expires_at)
                .ok_or_else(|| corrupt(format!("session expiry {expires_at}")))?,
        }))
    }
}

#[async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // Ids are 128 random bits, but a collision must still never hand
        // one member another's session: draw again until the insert lands.
        loop {
            let inserted = self
                .write(
                    "INSERT INTO sessions (id, member_id, data, expires_at)
                     VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
                    record,
                )
                .await?;
            if inserted {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        // Only a session that still exists: one ended meanwhile (signed out
        // on another instance, the member removed) stays ended, whatever a
        // request still in flight with it had changed.
        self.write(
            "UPDATE sessions SET member_id = $2, data = $3, expires_at = $4 WHERE id = $1",
            record,
        )
        .await?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        // Every change committed before this request is applied first (on
        // PostgreSQL, a sync round): a session ended elsewhere is gone from
        // the cache by now.
        self.store.sync().await.map_err(|e| self.backend_error(e))?;
        let key = key(id);
        if let Some(record) = self.cache().get(&key) {
            if clock::to_ms(record.expiry_date) > now_ms() {
                return Ok(Some(record));
            }
            self.cache().forget(&key);
        }
        let generation = self.cache().generation.load(Ordering::SeqCst);
        let record = self
            .read(&key, id)
            .await
            .map_err(|e| self.backend_error(e))?;
        self.succeeded();
        if let Some(record) = &record {
            self.cache().put(key, record.clone(), generation);
        }
        Ok(record)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let key = key(id);
        let deleted = async {
            let mut tx = self.store.begin_write().await?;
            sqlx::query("DELETE FROM sessions WHERE id = $1")
                .bind(&key)
                .execute(&mut *tx)
                .await?;
            let changes = [Change::Session(key.clone())];
            self.store.publish(&mut tx, &changes).await?;
            self.store.commit(tx, &changes).await
        }
        .await;
        // Gone from this instance's memory whatever the database said.
        self.cache().forget(&key);
        deleted.map_err(|e| self.backend_error(e))?;
        self.succeeded();
        Ok(())
    }
}
