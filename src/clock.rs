//! Wall-clock time as the product stores it: Unix milliseconds, UTC.

use time::OffsetDateTime;

pub fn now_ms() -> i64 {
    to_ms(OffsetDateTime::now_utc())
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
