//! Access tokens: roles, kinds, API versions and the rules for their fields.

use std::fmt;
use std::str::FromStr;

use super::{MemberRole, ValidationError};

pub const MAX_NAME_CHARS: usize = 256;
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

/// What a token may do. Ordered like member roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TokenRole {
    Reader,
    Writer,
    Admin,
}

impl TokenRole {
    pub const ALL: [TokenRole; 3] = [TokenRole::Reader, TokenRole::Writer, TokenRole::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenRole::Reader => "reader",
            TokenRole::Writer => "writer",
            TokenRole::Admin => "admin",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TokenRole::Reader => "Reader",
            TokenRole::Writer => "Writer",
            TokenRole::Admin => "Admin",
        }
    }

    /// What each role allows, as the role picker explains it.
    pub fn summary(self) -> &'static str {
        match self {
            TokenRole::Reader => "Read anything; change nothing.",
            TokenRole::Writer => "Read anything and change most things; cannot manage tokens.",
            TokenRole::Admin => "Full access, including managing access tokens.",
        }
    }

    /// The member role with the same privileges, for comparing the two.
    pub fn as_member_role(self) -> MemberRole {
        match self {
            TokenRole::Reader => MemberRole::Reader,
            TokenRole::Writer => MemberRole::Writer,
            TokenRole::Admin => MemberRole::Admin,
        }
    }

    /// The highest token role a member role covers (`None` for No access).
    /// Owners get Admin: there is no Owner token.
    pub fn cap_for(member: MemberRole) -> Option<TokenRole> {
        match member {
            MemberRole::NoAccess => None,
            MemberRole::Reader => Some(TokenRole::Reader),
            MemberRole::Writer => Some(TokenRole::Writer),
            MemberRole::Admin | MemberRole::Owner => Some(TokenRole::Admin),
        }
    }
}

impl fmt::Display for TokenRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for TokenRole {
    type Err = ValidationError;

    /// Accepts the lowercase JSON form and the label.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        TokenRole::ALL
            .into_iter()
            .find(|r| r.as_str() == lower)
            .ok_or_else(|| ValidationError::new("role", "Choose a role: Reader, Writer or Admin"))
    }
}

/// Personal tokens act for their member; service tokens for the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    Personal,
    Service,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Personal => "personal",
            TokenKind::Service => "service",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TokenKind::Personal => "Personal",
            TokenKind::Service => "Service",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "personal" => Some(TokenKind::Personal),
            "service" => Some(TokenKind::Service),
            _ => None,
        }
    }

    /// The secret prefix that tells scanners and people what a secret is.
    pub fn secret_prefix(self) -> &'static str {
        match self {
            TokenKind::Personal => "lk_pat_",
            TokenKind::Service => "lk_svc_",
        }
    }
}

/// The API versions a token can default to, newest first.
pub const API_VERSIONS: [i64; 3] = [20240415, 20220603, 20210729];
pub const DEFAULT_API_VERSION: i64 = 20240415;

pub fn validate_api_version(v: i64) -> Result<i64, ValidationError> {
    if API_VERSIONS.contains(&v) {
        Ok(v)
    } else {
        Err(ValidationError::new(
            "api_version",
            "Choose an API version: 20240415, 20220603 or 20210729",
        ))
    }
}

/// Trims a name and checks it is 1–256 characters.
pub fn validate_name(raw: &str) -> Result<String, ValidationError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(ValidationError::new("name", "Enter a name for the token"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ValidationError::new(
            "name",
            format!("Name must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "name",
            "Name cannot contain control characters such as line breaks",
        ));
    }
    Ok(name.to_string())
}

/// Whether `text` could be part of a token name: names never hold control
/// characters, so a search for one matches nothing.
pub fn could_be_in_a_name(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

/// Trims a description and checks it is at most 1000 characters, with no
/// control characters but line breaks and tabs.
pub fn validate_description(raw: &str) -> Result<String, ValidationError> {
    let description = raw.trim();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ValidationError::new(
            "description",
            format!("Description must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    if description
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ValidationError::new(
            "description",
            "Description cannot contain control characters other than line breaks and tabs",
        ));
    }
    Ok(description.to_string())
}

/// The latest expiry accepted: the end of year 9999 UTC, the last moment
/// every page and client can still write as a date.
pub const MAX_EXPIRY_MS: i64 = 253_402_300_799_999;

/// An expiry must lie in the future (a token that is born expired is a
/// mistake, not a choice) and before year 10000.
pub fn validate_expiry(
    expires_at: Option<i64>,
    now_ms: i64,
) -> Result<Option<i64>, ValidationError> {
    match expires_at {
        Some(t) if t <= now_ms => Err(ValidationError::new(
            "expires",
            "Expiry must be in the future",
        )),
        Some(t) if t > MAX_EXPIRY_MS => Err(ValidationError::new(
            "expires",
            "Expiry must be before the year 10000",
        )),
        other => Ok(other),
    }
}

/// The name a clone gets.
pub fn clone_name(source: &str) -> String {
    let suffix = " (copy)";
    let keep = MAX_NAME_CHARS - suffix.chars().count();
    let base: String = source.chars().take(keep).collect();
    format!("{base}{suffix}")
}

/// How long the old secret keeps working after a reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetGrace {
    Immediately,
    OneHour,
    OneDay,
    SevenDays,
}

impl ResetGrace {
    pub const ALL: [ResetGrace; 4] = [
        ResetGrace::Immediately,
        ResetGrace::OneHour,
        ResetGrace::OneDay,
        ResetGrace::SevenDays,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResetGrace::Immediately => "now",
            ResetGrace::OneHour => "1h",
            ResetGrace::OneDay => "24h",
            ResetGrace::SevenDays => "7d",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ResetGrace::Immediately => "Immediately",
            ResetGrace::OneHour => "1 hour",
            ResetGrace::OneDay => "24 hours",
            ResetGrace::SevenDays => "7 days",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }

    pub fn millis(self) -> i64 {
        match self {
            ResetGrace::Immediately => 0,
            ResetGrace::OneHour => HOUR_MS,
            ResetGrace::OneDay => 24 * HOUR_MS,
            ResetGrace::SevenDays => 7 * 24 * HOUR_MS,
        }
    }

    /// When the old secret stops working if the reset happens at `now_ms`:
    /// `None` for at once.
    pub fn old_secret_until(self, now_ms: i64) -> Option<i64> {
        (self.millis() > 0).then(|| now_ms + self.millis())
    }
}

const HOUR_MS: i64 = 60 * 60 * 1000;

/// The longest a replaced secret may keep working: a year (366 days, so
/// "this time next year" always fits).
pub const MAX_RESET_GRACE_MS: i64 = 366 * 24 * HOUR_MS;

/// When a replaced secret stops working: `None`, or a time that is not in
/// the future, means at once; later than a year from now is refused.
pub fn validate_old_secret_until(
    until: Option<i64>,
    now_ms: i64,
) -> Result<Option<i64>, ValidationError> {
    match until {
        Some(t) if t > now_ms.saturating_add(MAX_RESET_GRACE_MS) => Err(ValidationError::new(
            "expiry",
            "The old secret can keep working for at most one year from now",
        )),
        Some(t) if t > now_ms => Ok(Some(t)),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(validate_name("  deploy bot ").unwrap(), "deploy bot");
        assert!(validate_name("   ").is_err());
        assert!(validate_name(&"é".repeat(256)).is_ok());
        assert!(validate_name(&"é".repeat(257)).is_err());
        assert!(validate_name("a\nb").is_err());
        assert!(!could_be_in_a_name("a\u{0}b"));
        assert!(could_be_in_a_name("deploy (copy)"));
    }

    #[test]
    fn descriptions_keep_line_breaks_but_no_other_controls() {
        assert_eq!(
            validate_description(" two\nlines\tand a tab ").unwrap(),
            "two\nlines\tand a tab"
        );
        assert!(validate_description("nul\u{0}here").is_err());
        assert!(validate_description("bell\u{7}").is_err());
    }

    #[test]
    fn clone_names_stay_within_the_limit() {
        assert_eq!(clone_name("ci"), "ci (copy)");
        let long = "x".repeat(256);
        let cloned = clone_name(&long);
        assert_eq!(cloned.chars().count(), 256);
        assert!(cloned.ends_with(" (copy)"));
    }

    #[test]
    fn roles_parse_and_cap() {
        assert_eq!("writer".parse::<TokenRole>(), Ok(TokenRole::Writer));
        assert_eq!("Admin".parse::<TokenRole>(), Ok(TokenRole::Admin));
        assert!("owner".parse::<TokenRole>().is_err());
        assert_eq!(TokenRole::cap_for(MemberRole::NoAccess), None);
        assert_eq!(
            TokenRole::cap_for(MemberRole::Owner),
            Some(TokenRole::Admin)
        );
    }

    #[test]
    fn expiry_must_be_future() {
        assert!(validate_expiry(Some(10), 20).is_err());
        assert_eq!(validate_expiry(Some(30), 20), Ok(Some(30)));
        assert_eq!(validate_expiry(None, 20), Ok(None));
        assert!(validate_expiry(Some(i64::MAX), 20).is_err());
        assert!(validate_expiry(Some(MAX_EXPIRY_MS), 20).is_ok());
    }

    #[test]
    fn old_secrets_work_for_at_most_a_year() {
        let now = 1_000_000;
        assert_eq!(validate_old_secret_until(None, now), Ok(None));
        assert_eq!(validate_old_secret_until(Some(now), now), Ok(None));
        assert_eq!(validate_old_secret_until(Some(now - 5), now), Ok(None));
        assert_eq!(
            validate_old_secret_until(Some(now + 5), now),
            Ok(Some(now + 5))
        );
        let limit = now + MAX_RESET_GRACE_MS;
        assert_eq!(validate_old_secret_until(Some(limit), now), Ok(Some(limit)));
        assert!(validate_old_secret_until(Some(limit + 1), now).is_err());
        assert!(validate_old_secret_until(Some(i64::MAX), i64::MAX - 1).is_ok());
        for grace in ResetGrace::ALL {
            let until = grace.old_secret_until(now);
            assert_eq!(
                validate_old_secret_until(until, now),
                Ok(until),
                "{grace:?}"
            );
        }
        assert_eq!(ResetGrace::Immediately.old_secret_until(now), None);
    }
}
