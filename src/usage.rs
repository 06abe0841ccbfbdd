//! "Last used" without a database write on every API request: uses are
//! noted in memory and written in one batch every few seconds, and once more
//! at shutdown so none is lost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::store::Store;

/// How often noted uses are written to the database, by default
/// (`--usage-flush-seconds`).
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub struct UsageRecorder {
    pending: Mutex<HashMap<String, i64>>,
}

impl UsageRecorder {
    /// Notes that `token_id` was used at `at_ms`. Cheap: one short lock.
    pub fn note(&self, token_id: &str, at_ms: i64) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        match pending.get_mut(token_id) {
            Some(t) => *t = (*t).max(at_ms),
            None => {
                pending.insert(token_id.to_string(), at_ms);
            }
        }
    }

    /// Uses noted and not yet written.
    pub fn pending(&self) -> usize {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Writes everything noted so far. On failure (the database is
    /// unreachable, full, read-only) the uses are put back for the next
    /// attempt, so they are written once it takes writes again.
    pub async fn flush(&self, store: &Store) {
        let batch: Vec<(String, i64)> = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.drain().collect()
        };
        if batch.is_empty() {
            return;
        }
        if let Err(e) = store.record_token_use(&batch).await {
            tracing::warn!(error = %e, uses = batch.len(), "recording token use failed; will retry");
            for (id, at) in batch {
                self.note(&id, at);
            }
        }
    }

    /// Flushes every `interval` until the task is aborted.
    pub fn spawn_flusher(
        self: Arc<Self>,
        store: Store,
        interval: Duration,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.tick().await;
            loop {
                tick.tick().await;
                self.flush(&store).await;
            }
        })
    }
}
