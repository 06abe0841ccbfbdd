//! Randomness straight from the operating system's CSPRNG.

/// Fills `buf` from the OS CSPRNG. A machine that cannot provide randomness
/// cannot issue secrets safely, so this is the one place we stop the process.
pub fn fill(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the operating system's random number generator failed");
}

/// A random token for forms (CSRF) and generated passwords: `bytes` random
/// bytes as lowercase hex.
pub fn hex_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    fill(&mut buf);
    super::hex::encode(&buf)
}

pub const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `len` characters drawn uniformly from the base62 alphabet. Bytes at or
/// above 248 (= 4 × 62) are rejected so that no character is more likely than
/// another.
pub fn base62(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        fill(&mut buf);
        for &b in &buf {
            if b < 248 && out.len() < len {
                out.push(BASE62[(b % 62) as usize] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base62_has_requested_length_and_alphabet() {
        let s = base62(100);
        assert_eq!(s.len(), 100);
        assert!(s.bytes().all(|b| BASE62.contains(&b)));
        assert_ne!(base62(30), base62(30));
    }
}
