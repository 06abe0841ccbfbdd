//! Sign-in sessions in the database, for tower-sessions, on both backends:
//! signed in through one instance means signed in on every instance, and
//! signing out (or being removed) ends the session everywhere. The record
//! is stored as JSON under the SHA-256 of its id (the id is the cookie: a
//! copy of the database alone must not sign anyone in); the member id is
//! kept in a column of its own so all of a member's sessions can be ended
//! at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use sqlx::Row;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use super::{Store, StoreError};
use crate::clock;

/// Marks a session-store error that means "database unavailable", so the
/// page layer can answer 503 rather than 500 (tower-sessions carries store
/// errors as text).
pub const UNAVAILABLE: &str = "database unavailable";

/// The session key under which the signed-in member's id is kept.
pub const MEMBER_ID_KEY: &str = "member_id";

#[derive(Clone, Debug)]
pub struct Sessions {
    store: Store,
    /// Whether the last failure was the database being unavailable.
    /// tower-sessions answers a failed save with a bare 500 of its own; the
    /// page layer asks this to answer 503 instead.
    unavailable: Arc<AtomicBool>,
}

impl Store {
    /// The session store tower-sessions keeps sign-ins in.
    pub fn sessions(&self) -> Sessions {
        Sessions {
            store: self.clone(),
            unavailable: Arc::default(),
        }
    }
}

impl Sessions {
    /// Whether the session store's latest failure was the database being
    /// unreachable (rather than a bug).
    pub fn last_failure_was_unavailable(&self) -> bool {
        self.unavailable.load(Ordering::SeqCst)
    }

    /// Runs `sql` with the record's key, member id, data and expiry as `$1`
    /// to `$4`; whether it wrote a row.
    async fn write(&self, sql: &str, record: &Record) -> session_store::Result<bool> {
        let e = encode(record)?;
        let done = sqlx::query(sql)
            .bind(&e.id)
            .bind(e.member_id.as_deref())
            .bind(&e.data)
            .bind(e.expires_at)
            .execute(self.store.pool())
            .await
            .map_err(|e| self.backend_error(e))?;
        self.succeeded();
        Ok(done.rows_affected() == 1)
    }

    fn succeeded(&self) {
        self.unavailable.store(false, Ordering::SeqCst);
    }

    fn backend_error(&self, e: impl Into<StoreError>) -> session_store::Error {
        let e = e.into();
        let unavailable = matches!(e, StoreError::Unavailable(_));
        self.unavailable.store(unavailable, Ordering::SeqCst);
        if unavailable {
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
        Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now_ms())
            .execute(self.store.pool())
            .await?
            .rows_affected())
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
        let row =
            sqlx::query("SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2")
                .bind(key(id))
                .bind(now_ms())
                .fetch_optional(self.store.pool())
                .await
                .map_err(|e| self.backend_error(e))?;
        self.succeeded();
        let Some(row) = row else {
            return Ok(None);
        };
        let data: String = row.try_get("data").map_err(|e| self.backend_error(e))?;
        let expires_at: i64 = row
            .try_get("expires_at")
            .map_err(|e| self.backend_error(e))?;
        let decode = |e: String| session_store::Error::Decode(e);
        Ok(Some(Record {
            id: *id,
            data: serde_json::from_str(&data).map_err(|e| decode(e.to_string()))?,
            expiry_date: clock::from_ms(expires_at)
                .ok_or_else(|| decode(format!("session expiry {expires_at}")))?,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(key(id))
            .execute(self.store.pool())
            .await
            .map_err(|e| self.backend_error(e))?;
        Ok(())
    }
}
