//! How a token list is ordered, and the hygiene views that narrow it by
//! time ("not used in 30 days", "expiring within 7 days"). The page's query
//! string and the API's parameters both parse into these, and the catalog
//! orders and filters by them, so there is one meaning of each.

use std::cmp::Ordering;

pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The columns a list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Name,
    Created,
    LastUsed,
    Expires,
}

impl SortKey {
    pub const ALL: [SortKey; 4] = [
        SortKey::Name,
        SortKey::Created,
        SortKey::LastUsed,
        SortKey::Expires,
    ];

    /// As URLs and the API spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Created => "created",
            SortKey::LastUsed => "lastUsed",
            SortKey::Expires => "expires",
        }
    }

    /// Which way a first click on the column sorts: names A to Z; times
    /// newest first, except expiry, soonest first (what needs attention).
    pub fn natural_descending(self) -> bool {
        matches!(self, SortKey::Created | SortKey::LastUsed)
    }
}

/// A sort: a column and a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

impl Sort {
    /// `name`, `-created`, `lastUsed`, …: a leading `-` sorts descending.
    pub fn parse(text: &str) -> Option<Sort> {
        let (descending, name) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        SortKey::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .map(|key| Sort { key, descending })
    }

    pub fn as_param(self) -> String {
        format!(
            "{}{}",
            if self.descending { "-" } else { "" },
            self.key.as_str()
        )
    }

    /// The default list order (by name, A to Z), which the catalog keeps
    /// ready; every other order is sorted on request.
    pub fn is_default(self) -> bool {
        self == Sort::default()
    }

    /// Orders two tokens' `(created, last used, expires)` by this sort's
    /// column, before the name order breaks ties. Never used counts as
    /// oldest; never expiring as latest.
    pub fn compare(self, a: &SortFields, b: &SortFields) -> Ordering {
        let by_key = match self.key {
            SortKey::Name => Ordering::Equal,
            SortKey::Created => a.created_at.cmp(&b.created_at),
            SortKey::LastUsed => a.last_used_at.cmp(&b.last_used_at),
            SortKey::Expires => match (a.expires_at, b.expires_at) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            },
        };
        if self.descending {
            by_key.reverse()
        } else {
            by_key
        }
    }
}

/// The times a sort or a hygiene view looks at.
#[derive(Debug, Clone, Copy)]
pub struct SortFields {
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
}

/// The "Not used in" choices.
pub const UNUSED_DAYS: [i64; 2] = [30, 90];
/// The "Expiring within" choice.
pub const EXPIRING_DAYS: i64 = 7;

/// A hygiene view, resolved against the current time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeFilter {
    /// Not used since this time (never used counts, if the token is at
    /// least that old: a token made yesterday is not stale).
    pub unused_since: Option<i64>,
    /// Expiring after `.0` (not yet expired) and no later than `.1`.
    pub expiring: Option<(i64, i64)>,
}

impl TimeFilter {
    pub fn new(unused_days: Option<i64>, expiring_days: Option<i64>, now_ms: i64) -> Self {
        TimeFilter {
            unused_since: unused_days.map(|d| now_ms - d * DAY_MS),
            expiring: expiring_days.map(|d| (now_ms, now_ms + d * DAY_MS)),
        }
    }

    pub fn is_empty(self) -> bool {
        self.unused_since.is_none() && self.expiring.is_none()
    }

    pub fn admits(self, t: &SortFields) -> bool {
        let unused = self.unused_since.is_none_or(|since| match t.last_used_at {
            Some(used) => used < since,
            None => t.created_at < since,
        });
        let expiring = self
            .expiring
            .is_none_or(|(now, until)| t.expires_at.is_some_and(|e| e > now && e <= until));
        unused && expiring
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(created: i64, used: Option<i64>, expires: Option<i64>) -> SortFields {
        SortFields {
            created_at: created,
            last_used_at: used,
            expires_at: expires,
        }
    }

    #[test]
    fn sorts_parse_and_print() {
        for key in SortKey::ALL {
            for descending in [false, true] {
                let sort = Sort { key, descending };
                assert_eq!(Sort::parse(&sort.as_param()), Some(sort));
            }
        }
        assert_eq!(
            Sort::parse("-lastUsed").map(|s| s.key),
            Some(SortKey::LastUsed)
        );
        assert_eq!(Sort::parse("last_used"), None);
        assert_eq!(Sort::parse(""), None);
    }

    #[test]
    fn never_used_is_oldest_and_never_expiring_is_latest() {
        let never_used = fields(0, None, None);
        let used = fields(0, Some(5), Some(10));
        let by_use = Sort {
            key: SortKey::LastUsed,
            descending: false,
        };
        assert_eq!(by_use.compare(&never_used, &used), Ordering::Less);
        let by_expiry = Sort {
            key: SortKey::Expires,
            descending: false,
        };
        assert_eq!(by_expiry.compare(&used, &never_used), Ordering::Less);
        let soonest_last = Sort {
            key: SortKey::Expires,
            descending: true,
        };
        assert_eq!(soonest_last.compare(&used, &never_used), Ordering::Greater);
    }

    #[test]
    fn stale_and_expiring_views() {
        let now = 100 * DAY_MS;
        let unused_30 = TimeFilter::new(Some(30), None, now);
        assert!(unused_30.admits(&fields(0, Some(now - 31 * DAY_MS), None)));
        assert!(!unused_30.admits(&fields(0, Some(now - 29 * DAY_MS), None)));
        assert!(
            unused_30.admits(&fields(0, None, None)),
            "old and never used"
        );
        assert!(
            !unused_30.admits(&fields(now - DAY_MS, None, None)),
            "new, not stale"
        );
        let expiring = TimeFilter::new(None, Some(7), now);
        assert!(expiring.admits(&fields(0, None, Some(now + 6 * DAY_MS))));
        assert!(!expiring.admits(&fields(0, None, Some(now + 8 * DAY_MS))));
        assert!(
            !expiring.admits(&fields(0, None, Some(now - 1))),
            "already expired"
        );
        assert!(!expiring.admits(&fields(0, None, None)));
        assert!(TimeFilter::default().admits(&fields(0, None, None)));
    }
}
