//! Lowercase hexadecimal, for ids, digests and asset versions.

/// `[0x0a, 0xff]` → `"0aff"`.
/// A table rather than `write!("{b:02x}")`: every API request digests its
/// secret, and the formatter showed in its profile.
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_lowercase_pairs() {
        assert_eq!(super::encode(&[0x0a, 0xff, 0x00]), "0aff00");
        assert_eq!(super::encode(&[]), "");
    }
}
