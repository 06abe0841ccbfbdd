//! Member email addresses: what we accept and how we compare them.

use super::ValidationError;

/// RFC 5321 caps a forward path at 254 octets.
pub const MAX_EMAIL_LEN: usize = 254;

/// Trims and lowercases an address and checks that it looks like one.
/// Addresses are compared case-insensitively, so this is also the key under
/// which a member is stored and looked up.
pub fn normalize_email(raw: &str) -> Result<String, ValidationError> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(ValidationError::new("email", "Enter an email address"));
    }
    if email.len() > MAX_EMAIL_LEN {
        return Err(ValidationError::new(
            "email",
            format!("Email must be at most {MAX_EMAIL_LEN} characters"),
        ));
    }
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if !valid {
        return Err(ValidationError::new(
            "email",
            "Enter an email address like name@example.com",
        ));
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_and_space() {
        assert_eq!(
            normalize_email("  Ada@Example.COM ").as_deref(),
            Ok("ada@example.com")
        );
    }

    #[test]
    fn rejects_non_addresses() {
        for bad in ["", "   ", "ada", "@example.com", "ada@", "a b@c.d", "a@b@c"] {
            assert!(normalize_email(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(normalize_email(&format!("{}@x.io", "a".repeat(300))).is_err());
    }
}
