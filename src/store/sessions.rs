//! Sign-in sessions in the database, for tower-sessions, on both backends:
//! signed in through one instance means signed in on every instance, and
//! signing out (or being removed) ends the session everywhere. The record
//! is stored as JSON; the member id is kept in a column of its own so all
//! of a member's sessions can be ended at once.

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

struct Encoded {
    id: String,
    member_id: Option<String>,
    data: String,
    expires_at: i64,
}

fn encode(record: &Record) -> session_store::Result<Encoded> {
    Ok(Encoded {
        id: record.id.to_string(),
        member_id: record
            .data
            .get(MEMBER_ID_KEY)
            .and_then(|v| v.as_str())
            .map(str::to_string),
        data: serde_json::to_string(record)
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
            let e = encode(record)?;
            let inserted = sqlx::query(
                "INSERT INTO sessions (id, member_id, data, expires_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(&e.id)
            .bind(e.member_id.as_deref())
            .bind(&e.data)
            .bind(e.expires_at)
            .execute(self.store.pool())
            .await
            .map_err(|e| self.backend_error(e))?;
            if inserted.rows_affected() == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let e = encode(record)?;
        sqlx::query(
            "INSERT INTO sessions (id, member_id, data, expires_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE
             SET member_id = excluded.member_id, data = excluded.data,
                 expires_at = excluded.expires_at",
        )
        .bind(&e.id)
        .bind(e.member_id.as_deref())
        .bind(&e.data)
        .bind(e.expires_at)
        .execute(self.store.pool())
        .await
        .map_err(|e| self.backend_error(e))?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row = sqlx::query("SELECT data FROM sessions WHERE id = $1 AND expires_at > $2")
            .bind(id.to_string())
            .bind(now_ms())
            .fetch_optional(self.store.pool())
            .await
            .map_err(|e| self.backend_error(e))?;
        match row {
            Some(row) => {
                let data: String = row.try_get("data").map_err(|e| self.backend_error(e))?;
                serde_json::from_str(&data)
                    .map(Some)
                    .map_err(|e| session_store::Error::Decode(e.to_string()))
            }
            None => Ok(None),
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id.to_string())
            .execute(self.store.pool())
            .await
            .map_err(|e| self.backend_error(e))?;
        Ok(())
    }
}
