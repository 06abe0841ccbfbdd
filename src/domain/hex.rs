//! Lowercase hexadecimal, for ids, digests and asset versions.

/// `[0x0a, 0xff]` → `"0aff"`.
pub fn encode(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_lowercase_pairs() {
        assert_eq!(super::encode(&[0x0a, 0xff, 0x00]), "0aff00");
        assert_eq!(super::encode(&[]), "");
    }
}
