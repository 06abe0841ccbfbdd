//! Time as the product sees it: Unix milliseconds, UTC, from one injectable
//! [`Clock`] that the token operations, the store and the throttles share.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

/// The system clock, plus an offset that only tests move. A test that waits
/// for an expiry, a grace period or a throttle window calls [`Clock::advance`]
/// instead of sleeping; everything holding a clone of this clock sees the
/// same time.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The real time.
    pub fn system() -> Self {
        Self::default()
    }

    /// Now, in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        to_ms(OffsetDateTime::now_utc()).saturating_add(self.offset())
    }

    /// A monotonic now, for measuring windows (moves with `advance` too).
    pub fn instant(&self) -> Instant {
        Instant::now() + Duration::from_millis(self.offset().max(0) as u64)
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }

    fn offset(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst)
    }
}

pub fn to_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// `None` for a value outside what `time` can represent (corrupt data).
pub fn from_ms(ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

/// `2026-11-29 17:05 UTC`: how pages and the audit log write a moment.
pub fn format_utc(ms: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    from_ms(ms)
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| "an unknown time".to_string())
}

/// RFC 3339, for `<time datetime>`.
pub fn format_rfc3339(ms: i64) -> String {
    from_ms(ms)
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_every_clone() {
        let clock = Clock::system();
        let seen_by_store = clock.clone();
        let before = seen_by_store.now_ms();
        let instant = seen_by_store.instant();
        clock.advance(Duration::from_secs(3600));
        assert!(seen_by_store.now_ms() >= before + 3_600_000);
        assert!(seen_by_store.instant() >= instant + Duration::from_secs(3600));
    }
}
