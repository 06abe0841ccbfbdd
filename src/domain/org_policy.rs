//! The organization's token policy: the longest a new token may live.
//!
//! One rule, [`TokenPolicy::check_expiry`], which create, clone and edit all
//! follow (on the pages and through the API), checked by the store inside
//! the transaction that writes the token, so a policy saved on one instance
//! binds every instance's very next write.

use super::ValidationError;
use super::token::MAX_EXPIRY_MS;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The limits an Owner can choose, in days. A fixed set rather than any
/// number: each is a lifetime people recognise, and the create form can say
/// it in plain words ("at most 90 days").
pub const LIFETIME_CHOICES: [i64; 6] = [7, 30, 60, 90, 180, 365];

/// What the organization asks of new tokens. `Default` is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenPolicy {
    /// The longest a new token may live, in days; `None`: no limit (a token
    /// may also never expire).
    pub max_lifetime_days: Option<i64>,
}

impl TokenPolicy {
    pub fn with_max_days(days: i64) -> Self {
        TokenPolicy {
            max_lifetime_days: Some(days),
        }
    }

    /// The latest expiry a token created at `now_ms` may have; `None` when
    /// there is no limit.
    pub fn latest_expiry(self, now_ms: i64) -> Option<i64> {
        self.max_lifetime_days.map(|days| {
            now_ms
                .saturating_add(days.saturating_mul(DAY_MS))
                .min(MAX_EXPIRY_MS)
        })
    }

    /// Whether a token that is being created or given a new expiry at
    /// `now_ms` may have `expires_at` (`None`: never expires). With a
    /// maximum lifetime, it must expire, no later than `now_ms` + the
    /// maximum. (That the expiry lies in the future is
    /// `token::validate_expiry`'s rule, checked before this one.)
    pub fn check_expiry(self, expires_at: Option<i64>, now_ms: i64) -> Result<(), ValidationError> {
        let (Some(days), Some(latest)) = (self.max_lifetime_days, self.latest_expiry(now_ms))
        else {
            return Ok(());
        };
        let limit = lifetime_label(days);
        match expires_at {
            None => Err(ValidationError::new(
                "expires",
                format!(
                    "Choose an expiry: your organization requires new tokens to expire within {limit}"
                ),
            )),
            Some(t) if t > latest => Err(ValidationError::new(
                "expires",
                format!(
                    "Expiry must be at most {limit} from now: your organization allows tokens to live at most {limit}"
                ),
            )),
            Some(_) => Ok(()),
        }
    }

    /// The expiry of a clone made at `now_ms`. A clone never takes over its
    /// source's expiry (that belongs to the source's purpose, and a token is
    /// often cloned because it is about to expire), so without a limit it
    /// never expires, like a new token left as it is; with one, it lives as
    /// long as the policy allows, which always passes [`Self::check_expiry`].
    pub fn clone_expiry(self, now_ms: i64) -> Option<i64> {
        self.latest_expiry(now_ms)
    }

    /// "No limit", "90 days", "1 year".
    pub fn label(self) -> String {
        match self.max_lifetime_days {
            None => "No limit".to_string(),
            Some(days) => lifetime_label(days),
        }
    }
}

/// "7 days", "1 year".
pub fn lifetime_label(days: i64) -> String {
    match days {
        365 => "1 year".to_string(),
        1 => "1 day".to_string(),
        n => format!("{n} days"),
    }
}

/// The value a form sends for "No limit".
pub const NO_LIMIT: &str = "none";

/// Reads the maximum lifetime as the settings form sends it: `none`, or one
/// of [`LIFETIME_CHOICES`] in days.
pub fn parse_max_lifetime(raw: &str) -> Result<TokenPolicy, ValidationError> {
    let raw = raw.trim();
    if raw == NO_LIMIT {
        return Ok(TokenPolicy::default());
    }
    raw.parse::<i64>()
        .ok()
        .filter(|days| LIFETIME_CHOICES.contains(days))
        .map(TokenPolicy::with_max_days)
        .ok_or_else(|| {
            ValidationError::new(
                "max_lifetime",
                "Choose a maximum lifetime: No limit, 7, 30, 60, 90 or 180 days, or 1 year",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn the_rule_against_a_table() {
        let ninety = TokenPolicy::with_max_days(90);
        let limit = NOW + 90 * DAY_MS;
        // (policy, requested expiry, allowed)
        let table: [(TokenPolicy, Option<i64>, bool); 10] = [
            (TokenPolicy::default(), None, true),
            (TokenPolicy::default(), Some(NOW + 1), true),
            (TokenPolicy::default(), Some(MAX_EXPIRY_MS), true),
            (ninety, None, false),
            (ninety, Some(NOW + 1), true),
            (ninety, Some(NOW + 30 * DAY_MS), true),
            (ninety, Some(limit), true),
            (ninety, Some(limit + 1), false),
            (ninety, Some(MAX_EXPIRY_MS), false),
            (TokenPolicy::with_max_days(7), Some(NOW + 8 * DAY_MS), false),
        ];
        for (policy, expires, allowed) in table {
            let verdict = policy.check_expiry(expires, NOW);
            assert_eq!(
                verdict.is_ok(),
                allowed,
                "{policy:?} {expires:?}: {verdict:?}"
            );
            if let Err(e) = verdict {
                assert_eq!(e.field, "expires");
                let days = policy.max_lifetime_days.expect("only a limit refuses");
                assert!(
                    e.message.contains(&lifetime_label(days)),
                    "the message names the limit: {}",
                    e.message
                );
            }
        }
    }

    #[test]
    fn never_expiring_and_too_long_are_told_apart() {
        let policy = TokenPolicy::with_max_days(365);
        let never = policy.check_expiry(None, NOW).unwrap_err();
        assert_eq!(
            never.message,
            "Choose an expiry: your organization requires new tokens to expire within 1 year"
        );
        let too_long = policy
            .check_expiry(Some(NOW + 400 * DAY_MS), NOW)
            .unwrap_err();
        assert_eq!(
            too_long.message,
            "Expiry must be at most 1 year from now: your organization allows tokens to live at most 1 year"
        );
    }

    #[test]
    fn clones_get_the_longest_lifetime_allowed() {
        assert_eq!(TokenPolicy::default().clone_expiry(NOW), None);
        for days in LIFETIME_CHOICES {
            let policy = TokenPolicy::with_max_days(days);
            let expiry = policy.clone_expiry(NOW);
            assert_eq!(expiry, Some(NOW + days * DAY_MS));
            assert_eq!(policy.check_expiry(expiry, NOW), Ok(()));
        }
        // Near the end of representable time the limit stops at year 9999.
        assert_eq!(
            TokenPolicy::with_max_days(365).latest_expiry(MAX_EXPIRY_MS - 1),
            Some(MAX_EXPIRY_MS)
        );
    }

    #[test]
    fn the_form_values_parse() {
        assert_eq!(parse_max_lifetime("none"), Ok(TokenPolicy::default()));
        assert_eq!(
            parse_max_lifetime(" 90 "),
            Ok(TokenPolicy::with_max_days(90))
        );
        for refused in [
            "",
            "0",
            "-7",
            "13",
            "91",
            "1e3",
            "NONE",
            "99999999999999999999",
        ] {
            assert!(parse_max_lifetime(refused).is_err(), "{refused:?}");
        }
        assert_eq!(TokenPolicy::default().label(), "No limit");
        assert_eq!(TokenPolicy::with_max_days(30).label(), "30 days");
        assert_eq!(TokenPolicy::with_max_days(365).label(), "1 year");
    }
}
