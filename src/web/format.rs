//! How pages write numbers and moments.

use std::borrow::Cow;
use std::fmt;

use crate::clock;

/// Text that holds none of the characters HTML gives a meaning to
/// (`<>&"'`), so templates write it as it is rather than escaping it
/// character by character (askama's `HtmlSafe`): ids, dates, labels. Half a
/// page's rows are such text, and escaping was a tenth of rendering. Only
/// `Verbatim::new` makes one, and it escapes whatever is not so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verbatim(Cow<'static, str>);

impl Verbatim {
    pub fn new(text: impl Into<Cow<'static, str>>) -> Self {
        let text = text.into();
        if !text
            .bytes()
            .any(|b| matches!(b, b'<' | b'>' | b'&' | b'"' | b'\''))
        {
            return Verbatim(text);
        }
        let mut out = String::with_capacity(text.len() + 16);
        for c in text.chars() {
            match c {
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '&' => out.push_str("&amp;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#39;"),
                c => out.push(c),
            }
        }
        Verbatim(out.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Verbatim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl askama::filters::HtmlSafe for Verbatim {}

/// `1234567` → `1,234,567`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `Nov 29, 2026`.
pub fn date(ms: i64) -> String {
    let fmt = time::macros::format_description!("[month repr:short] [day padding:none], [year]");
    clock::from_ms(ms)
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

/// `Dec 3, 14:05 UTC`: a moment within days of now, to the minute.
pub fn date_time(ms: i64) -> String {
    let fmt = time::macros::format_description!(
        "[month repr:short] [day padding:none], [hour]:[minute] UTC"
    );
    clock::from_ms(ms)
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

/// "just now", "5 minutes ago", "in 3 days"…; past a month, the date.
pub fn relative(ms: i64, now_ms: i64) -> String {
    let delta = now_ms - ms;
    let (future, secs) = if delta < 0 {
        (true, (-delta) / 1000)
    } else {
        (false, delta / 1000)
    };
    let (n, unit) = match secs {
        0..=59 => return "just now".to_string(),
        60..=3599 => (secs / 60, "minute"),
        3600..=86_399 => (secs / 3600, "hour"),
        86_400..=2_591_999 => (secs / 86_400, "day"),
        _ => return date(ms),
    };
    let plural = if n == 1 { "" } else { "s" };
    if future {
        format!("in {n} {unit}{plural}")
    } else {
        format!("{n} {unit}{plural} ago")
    }
}

/// The value of a `datetime-local` input for a UTC moment.
pub fn datetime_local(ms: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    clock::from_ms(ms)
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

/// Parses a `datetime-local` value (`2027-01-31T17:00`, seconds optional)
/// as UTC.
pub fn parse_datetime_local(value: &str) -> Option<i64> {
    let value = value.trim();
    let with_secs =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let without = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let parsed = time::PrimitiveDateTime::parse(value, &with_secs)
        .or_else(|_| time::PrimitiveDateTime::parse(value, &without))
        .ok()?;
    Some(clock::to_ms(parsed.assume_utc()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbatim_text_is_written_as_is_and_anything_else_escaped() {
        #[derive(askama::Template)]
        #[template(source = "<p title=\"{{ a }}\">{{ b }}</p>", ext = "html")]
        struct Page {
            a: Verbatim,
            b: Verbatim,
        }
        let page = Page {
            a: Verbatim::new("2026-12-02T10:00:00Z"),
            b: Verbatim::new(String::from("<b>\"Tom\" & 'Jerry'</b>")),
        };
        assert_eq!(
            askama::Template::render(&page).unwrap(),
            "<p title=\"2026-12-02T10:00:00Z\">&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;</p>"
        );
    }

    #[test]
    fn formats_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1234), "1,234");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn relative_times() {
        let now = 1_800_000_000_000;
        assert_eq!(relative(now - 5_000, now), "just now");
        assert_eq!(relative(now - 60_000, now), "1 minute ago");
        assert_eq!(relative(now - 3 * 3_600_000, now), "3 hours ago");
        assert_eq!(relative(now + 2 * 86_400_000, now), "in 2 days");
    }

    #[test]
    fn datetime_local_round_trip() {
        let ms = parse_datetime_local("2027-01-31T17:05").unwrap();
        assert_eq!(datetime_local(ms), "2027-01-31T17:05");
        assert!(parse_datetime_local("31/01/2027").is_none());
        assert!(parse_datetime_local("").is_none());
    }
}
