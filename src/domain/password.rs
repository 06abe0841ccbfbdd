//! Member passwords: Argon2id hashes in PHC string format.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use super::ValidationError;

pub const MIN_PASSWORD_LEN: usize = 8;
/// Long enough for any passphrase, short enough that hashing stays cheap.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Checks a new password against the length rules.
pub fn validate_new_password(password: &str) -> Result<(), ValidationError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_LEN {
        return Err(ValidationError::new(
            "password",
            format!("Password must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(ValidationError::new(
            "password",
            format!("Password must be at most {MAX_PASSWORD_LEN} bytes"),
        ));
    }
    Ok(())
}

/// Hashes with Argon2id and the crate's recommended parameters
/// (19 MiB, 2 passes), a fresh 16-byte salt from the OS CSPRNG.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    super::random::fill(&mut salt);
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| anyhow::anyhow!("encoding password salt: {e}"))?;
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the stored hash. A malformed stored hash never
/// matches.
pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    if password.len() > MAX_PASSWORD_LEN {
        return false;
    }
    match PasswordHash::new(stored_hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A valid hash of a random password, verified against when the email is
/// unknown so that a failed sign-in takes as long whether or not the member
/// exists.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_password(&super::random::hex_token(16)).expect("hashing a random password")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("wrong horse battery", &hash));
        assert!(!verify_password("anything", "not a hash"));
    }

    #[test]
    fn length_rules() {
        assert!(validate_new_password("short").is_err());
        assert!(validate_new_password("long enough").is_ok());
        assert!(validate_new_password(&"x".repeat(MAX_PASSWORD_LEN + 1)).is_err());
    }
}
