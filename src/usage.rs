//! "Last used" without a database write on every API request: uses are
//! noted in memory and written in one batch every few seconds, and once more
//! at shutdown so none is lost. What is noted per token is bounded: the
//! latest time, the latest with a replaced secret, and the latest few
//! distinct sources.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::store::uses::{MAX_SOURCES, user_agent_kept};
use crate::store::{Store, TokenUse, UseSource};

/// How often noted uses are written to the database, by default
/// (`--usage-flush-seconds`).
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(10);

/// One authenticated request, as the recorder notes it.
#[derive(Debug, Clone, Copy)]
pub struct Use<'a> {
    pub token_id: &'a str,
    pub at_ms: i64,
    /// Made with a replaced secret, in its grace period.
    pub old_secret: bool,
    pub client_ip: &'a str,
    pub user_agent: &'a str,
}

#[derive(Debug, Default)]
pub struct UsageRecorder {
    pending: Mutex<HashMap<String, TokenUse>>,
}

impl UsageRecorder {
    /// Notes a use. Cheap: one short lock, and an allocation only for a
    /// token or a source not yet noted since the last flush.
    pub fn note(&self, u: Use<'_>) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let entry = match pending.get_mut(u.token_id) {
            Some(entry) => entry,
            None => pending
                .entry(u.token_id.to_string())
                .or_insert_with(|| TokenUse::at(u.token_id, u.at_ms)),
        };
        entry.at = entry.at.max(u.at_ms);
        if u.old_secret {
            entry.old_secret_at = entry.old_secret_at.max(Some(u.at_ms));
        }
        note_source(&mut entry.sources, u);
    }

    /// Uses noted and not yet written.
    pub fn pending(&self) -> usize {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Writes everything noted so far. On failure (the database is
    /// unreachable, full, read-only) the uses are put back for the next
    /// attempt, so they are written once it takes writes again.
    pub async fn flush(&self, store: &Store) {
        let batch: Vec<TokenUse> = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.drain().map(|(_, u)| u).collect()
        };
        if batch.is_empty() {
            return;
        }
        if let Err(e) = store.record_token_use(&batch).await {
            tracing::warn!(error = %e, uses = batch.len(), "recording token use failed; will retry");
            self.put_back(batch);
        }
    }

    fn put_back(&self, batch: Vec<TokenUse>) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for u in batch {
            match pending.get_mut(&u.token_id) {
                None => {
                    pending.insert(u.token_id.clone(), u);
                }
                Some(newer) => {
                    newer.at = newer.at.max(u.at);
                    newer.old_secret_at = newer.old_secret_at.max(u.old_secret_at);
                    for s in &u.sources {
                        note_source(
                            &mut newer.sources,
                            Use {
                                token_id: &u.token_id,
                                at_ms: s.at,
                                old_secret: false,
                                client_ip: &s.client_ip,
                                user_agent: &s.user_agent,
                            },
                        );
                    }
                }
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

/// Keeps the latest few distinct sources: a known one gets the later time,
/// a new one replaces the stalest when the list is full.
fn note_source(sources: &mut Vec<UseSource>, u: Use<'_>) {
    let user_agent = user_agent_kept(u.user_agent);
    if let Some(known) = sources
        .iter_mut()
        .find(|s| s.client_ip == u.client_ip && s.user_agent == user_agent)
    {
        known.at = known.at.max(u.at_ms);
        return;
    }
    let source = UseSource {
        client_ip: u.client_ip.to_string(),
        user_agent: user_agent.to_string(),
        at: u.at_ms,
    };
    if sources.len() < MAX_SOURCES {
        sources.push(source);
    } else if let Some(stalest) = sources.iter_mut().min_by_key(|s| s.at)
        && stalest.at < u.at_ms
    {
        *stalest = source;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::uses::MAX_USER_AGENT_CHARS;

    fn use_from(ip: &str, at_ms: i64) -> Use<'_> {
        Use {
            token_id: "t",
            at_ms,
            old_secret: false,
            client_ip: ip,
            user_agent: "curl/8",
        }
    }

    #[test]
    fn keeps_the_latest_few_distinct_sources() {
        let mut sources = Vec::new();
        for i in 0..8 {
            note_source(
                &mut sources,
                use_from(["a", "b", "c", "d", "e", "f", "g", "h"][i], i as i64),
            );
        }
        note_source(&mut sources, use_from("h", 3));
        let mut ips: Vec<&str> = sources.iter().map(|s| s.client_ip.as_str()).collect();
        ips.sort();
        assert_eq!(ips, ["d", "e", "f", "g", "h"]);
        assert_eq!(sources.iter().find(|s| s.client_ip == "h").unwrap().at, 7);
    }

    #[test]
    fn long_user_agents_are_cut() {
        let mut sources = Vec::new();
        let long = "é".repeat(MAX_USER_AGENT_CHARS + 50);
        note_source(
            &mut sources,
            Use {
                user_agent: &long,
                ..use_from("a", 1)
            },
        );
        assert_eq!(sources[0].user_agent.chars().count(), MAX_USER_AGENT_CHARS);
    }
}
