//! Public identifiers: 24 lowercase hex characters (96 random bits), the
//! shape LaunchDarkly's API uses, so ids are unguessable and never leak how
//! many rows exist.

/// A new random id.
pub fn new_id() -> String {
    let mut bytes = [0u8; 12];
    super::random::fill(&mut bytes);
    super::hex::encode(&bytes)
}

/// Whether `s` has the shape of an id; anything else is refused before it
/// reaches the database.
pub fn is_valid_id(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_valid_and_distinct() {
        let a = new_id();
        let b = new_id();
        assert!(is_valid_id(&a), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn refuses_malformed_ids() {
        for bad in [
            "",
            "abc",
            "ZZZZZZZZZZZZZZZZZZZZZZZZ",
            "0123456789abcdef0123456789",
            "../../etc/passwd",
        ] {
            assert!(!is_valid_id(bad), "{bad:?}");
        }
    }
}
