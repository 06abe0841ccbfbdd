//! Counting failures per client within a sliding window.
//!
//! Sign-in (and later API authentication) must refuse a client that failed
//! too often *before* checking its next attempt, while successes never count.
//! Rate-limiting crates such as `governor` consume a cell on every check and
//! cannot look without consuming, so this small sliding-window log does the
//! job instead.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::clock::Clock;

/// Beyond this many tracked keys, stale ones are purged; if all are fresh the
/// table is cleared rather than grow without bound under a flood of keys.
const MAX_KEYS: usize = 100_000;

#[derive(Debug)]
pub struct FailureThrottle {
    limit: usize,
    window: Duration,
    clock: Clock,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl FailureThrottle {
    /// Allows `limit` failures per key within `window`, as `clock` tells it.
    pub fn new(limit: usize, window: Duration, clock: Clock) -> Self {
        Self {
            limit,
            window,
            clock,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// When `key` has used up its failures, how long until the oldest one
    /// leaves the window (at least one second, for a readable message).
    pub fn retry_after(&self, key: &str) -> Option<Duration> {
        let now = self.clock.instant();
        let mut failures = self.lock();
        let log = failures.get_mut(key)?;
        prune(log, now, self.window);
        if log.len() < self.limit {
            if log.is_empty() {
                failures.remove(key);
            }
            return None;
        }
        let oldest = *log.front()?;
        let wait = (oldest + self.window).saturating_duration_since(now);
        Some(wait.max(Duration::from_secs(1)))
    }

    /// Counts a failure against `key` unless the key is already blocked, in
    /// which case it says how long to wait. Check and count happen under one
    /// lock, so simultaneous failures cannot all slip under the limit.
    pub fn fail(&self, key: &str) -> Result<(), Duration> {
        let now = self.clock.instant();
        let mut failures = self.lock();
        if let Some(wait) = self.blocked(&mut failures, key, now) {
            return Err(wait);
        }
        self.record(&mut failures, key, now);
        Ok(())
    }

    /// Starts an attempt that must be paid for up front (a password check):
    /// if none of `keys` is blocked, counts a failure against each at once;
    /// `succeeded` takes it back. So a burst of parallel guesses is counted
    /// before any of them is checked.
    pub fn begin_attempt(&self, keys: &[&str]) -> Result<(), Duration> {
        let now = self.clock.instant();
        let mut failures = self.lock();
        let wait = keys
            .iter()
            .filter_map(|key| self.blocked(&mut failures, key, now))
            .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        for key in keys {
            self.record(&mut failures, key, now);
        }
        Ok(())
    }

    /// The attempt begun with `begin_attempt` succeeded: it does not count.
    pub fn succeeded(&self, keys: &[&str]) {
        let mut failures = self.lock();
        for key in keys {
            if let Some(log) = failures.get_mut(*key) {
                log.pop_back();
                if log.is_empty() {
                    failures.remove(*key);
                }
            }
        }
    }

    fn blocked(
        &self,
        failures: &mut HashMap<String, VecDeque<Instant>>,
        key: &str,
        now: Instant,
    ) -> Option<Duration> {
        let log = failures.get_mut(key)?;
        prune(log, now, self.window);
        if log.len() < self.limit {
            return None;
        }
        let oldest = *log.front()?;
        Some(
            (oldest + self.window)
                .saturating_duration_since(now)
                .max(Duration::from_secs(1)),
        )
    }

    /// Counts one failure against `key`.
    pub fn record_failure(&self, key: &str) {
        let now = self.clock.instant();
        let mut failures = self.lock();
        self.record(&mut failures, key, now);
    }

    fn record(&self, failures: &mut HashMap<String, VecDeque<Instant>>, key: &str, now: Instant) {
        if failures.len() >= MAX_KEYS && !failures.contains_key(key) {
            failures.retain(|_, log| {
                prune(log, now, self.window);
                !log.is_empty()
            });
            if failures.len() >= MAX_KEYS {
                tracing::warn!(
                    keys = failures.len(),
                    "failure throttle table full; clearing it"
                );
                failures.clear();
            }
        }
        let log = failures.entry(key.to_string()).or_default();
        prune(log, now, self.window);
        log.push_back(now);
        // Only the newest `limit` entries matter for the decision.
        while log.len() > self.limit {
            log.pop_front();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Instant>>> {
        // A panic while holding the lock leaves only counters behind; keep going.
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn prune(log: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while log
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
        log.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_limit_and_only_that_key() {
        let throttle = FailureThrottle::new(3, Duration::from_secs(60), Clock::system());
        for _ in 0..2 {
            throttle.record_failure("a");
            assert_eq!(throttle.retry_after("a"), None);
        }
        throttle.record_failure("a");
        let wait = throttle.retry_after("a").expect("third failure blocks");
        assert!(wait <= Duration::from_secs(60) && wait >= Duration::from_secs(59));
        assert_eq!(throttle.retry_after("b"), None);
    }

    #[test]
    fn attempts_count_before_they_finish() {
        let throttle = FailureThrottle::new(2, Duration::from_secs(60), Clock::system());
        // Two attempts in flight use up the allowance; a third is refused
        // before either has finished.
        assert!(throttle.begin_attempt(&["ip", "email"]).is_ok());
        assert!(throttle.begin_attempt(&["ip", "email"]).is_ok());
        assert!(throttle.begin_attempt(&["ip", "other"]).is_err());
        // A success gives its attempt back.
        throttle.succeeded(&["ip", "email"]);
        assert!(throttle.begin_attempt(&["ip", "email"]).is_ok());
    }

    #[test]
    fn fail_checks_and_counts_at_once() {
        let throttle = FailureThrottle::new(2, Duration::from_secs(60), Clock::system());
        assert!(throttle.fail("k").is_ok());
        assert!(throttle.fail("k").is_ok());
        assert!(throttle.fail("k").is_err());
    }

    #[test]
    fn window_passes_by_itself() {
        let clock = Clock::system();
        let throttle = FailureThrottle::new(1, Duration::from_secs(60), clock.clone());
        throttle.record_failure("a");
        assert!(throttle.retry_after("a").is_some());
        clock.advance(Duration::from_secs(59));
        assert!(throttle.retry_after("a").is_some());
        clock.advance(Duration::from_secs(1));
        assert_eq!(throttle.retry_after("a"), None);
    }
}
