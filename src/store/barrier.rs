//! Single-flight sync rounds. Every API request must be answered from an
//! index that holds every change committed before the request arrived, but
//! a round trip to the database per request would cost more than the rest
//! of the request. So requests share rounds: each waits for the first round
//! that *starts* after it arrived, and one round serves everyone who was
//! waiting when it began.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::{StoreError, StoreResult};

#[derive(Debug, Clone, Copy, Default)]
struct Round {
    number: u64,
    ok: bool,
}

pub(crate) struct Barrier {
    /// Rounds begun so far (the number of the newest).
    started: AtomicU64,
    /// The newest finished round and whether it succeeded.
    finished: watch::Sender<Round>,
    /// Wakes the round runner when someone waits.
    wake: Notify,
}

impl Default for Barrier {
    fn default() -> Self {
        Barrier {
            started: AtomicU64::new(0),
            finished: watch::Sender::new(Round::default()),
            wake: Notify::new(),
        }
    }
}

impl Barrier {
    /// Waits for a round that began after this call, up to `timeout`.
    pub async fn wait(&self, timeout: Duration) -> StoreResult<()> {
        let mut finished = self.finished.subscribe();
        // Any round numbered above what has started so far begins after
        // this line, so after the caller's request arrived.
        let needed = self.started.load(Ordering::SeqCst) + 1;
        self.wake.notify_one();
        match tokio::time::timeout(timeout, finished.wait_for(|r| r.number >= needed)).await {
            Ok(Ok(round)) if round.ok => Ok(()),
            Ok(Ok(_)) => Err(StoreError::Unavailable(
                "could not confirm that this instance has every change".into(),
            )),
            Ok(Err(_)) => Err(StoreError::Unavailable("the sync task has stopped".into())),
            Err(_) => Err(StoreError::Unavailable(
                "timed out confirming that this instance has every change".into(),
            )),
        }
    }

    /// Runs rounds, one after another, whenever someone waits. Never returns.
    pub async fn run<F, Fut>(&self, mut round: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = StoreResult<()>>,
    {
        let mut was_ok = true;
        loop {
            self.wake.notified().await;
            let number = self.started.fetch_add(1, Ordering::SeqCst) + 1;
            let ok = match round().await {
                Ok(()) => true,
                Err(e) => {
                    // Once per outage, not once per request.
                    if was_ok {
                        tracing::warn!(error = %e, "sync round failed; API authentication answers 503 until one succeeds");
                    }
                    false
                }
            };
            if ok && !was_ok {
                tracing::info!("sync rounds succeed again");
            }
            was_ok = ok;
            self.finished.send_replace(Round { number, ok });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[tokio::test]
    async fn waiters_share_rounds_and_each_sees_one_that_began_after_it() {
        let barrier = Arc::new(Barrier::default());
        let rounds = Arc::new(AtomicUsize::new(0));
        let runner = tokio::spawn({
            let barrier = barrier.clone();
            let rounds = rounds.clone();
            async move {
                barrier
                    .run(|| {
                        let rounds = rounds.clone();
                        async move {
                            rounds.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(5)).await;
                            Ok(())
                        }
                    })
                    .await
            }
        });
        let waiters: Vec<_> = (0..50)
            .map(|_| {
                let barrier = barrier.clone();
                tokio::spawn(async move { barrier.wait(Duration::from_secs(5)).await })
            })
            .collect();
        for w in waiters {
            w.await.unwrap().unwrap();
        }
        let used = rounds.load(Ordering::SeqCst);
        assert!((1..=3).contains(&used), "50 waiters shared {used} rounds");
        // A later waiter gets a new round.
        barrier.wait(Duration::from_secs(5)).await.unwrap();
        assert!(rounds.load(Ordering::SeqCst) > used);
        runner.abort();
    }

    #[tokio::test]
    async fn a_failed_round_is_unavailable() {
        let barrier = Arc::new(Barrier::default());
        let runner = tokio::spawn({
            let barrier = barrier.clone();
            async move {
                barrier
                    .run(|| async { Err(StoreError::Unavailable("down".into())) })
                    .await
            }
        });
        let result = barrier.wait(Duration::from_secs(5)).await;
        assert!(
            matches!(result, Err(StoreError::Unavailable(_))),
            "{result:?}"
        );
        runner.abort();
    }

    #[tokio::test]
    async fn no_runner_times_out() {
        let barrier = Barrier::default();
        let result = barrier.wait(Duration::from_millis(20)).await;
        assert!(matches!(result, Err(StoreError::Unavailable(_))));
    }
}
