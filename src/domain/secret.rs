//! The secret format: `lk_pat_` or `lk_svc_`, 30 base62 characters from the OS
//! CSPRNG (30 × log2(62) ≈ 178.6 bits), then 6 base62 characters of the CRC32
//! of everything before it. Secret scanners can match the prefix, and a
//! mistyped secret fails the checksum without a database read. Only the
//! SHA-256 digest is ever stored.

use sha2::{Digest, Sha256};

use super::random::{self, BASE62};
use super::token::TokenKind;

const RANDOM_LEN: usize = 30;
const CHECKSUM_LEN: usize = 6;
const PREFIX_LEN: usize = 7; // "lk_pat_" and "lk_svc_"
pub const SECRET_LEN: usize = PREFIX_LEN + RANDOM_LEN + CHECKSUM_LEN;

/// A freshly issued secret. Deliberately not `Debug`/`Display`: it must never
/// reach a log line by accident.
pub struct NewSecret {
    value: String,
}

impl NewSecret {
    pub fn generate(kind: TokenKind) -> Self {
        let mut value = String::with_capacity(SECRET_LEN);
        value.push_str(kind.secret_prefix());
        value.push_str(&random::base62(RANDOM_LEN));
        let checksum = checksum(value.as_bytes());
        value.push_str(&checksum);
        Self { value }
    }

    /// The secret itself, to show the member exactly once.
    pub fn expose(&self) -> &str {
        &self.value
    }

    pub fn into_exposed(self) -> String {
        self.value
    }

    pub fn digest(&self) -> String {
        digest(&self.value)
    }

    pub fn last_four(&self) -> String {
        last_four(&self.value)
    }
}

/// Base62 of CRC32, left-padded to six characters (62⁶ > 2³²).
fn checksum(body: &[u8]) -> String {
    let mut n = u64::from(crc32fast::hash(body));
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `candidate` has the shape and checksum of a Latchkey secret.
/// Cheap, and needs no database.
pub fn is_well_formed(candidate: &str) -> bool {
    // ASCII first: the byte offsets below must fall on character boundaries.
    if candidate.len() != SECRET_LEN || !candidate.is_ascii() {
        return false;
    }
    let kind_ok = candidate.starts_with(TokenKind::Personal.secret_prefix())
        || candidate.starts_with(TokenKind::Service.secret_prefix());
    if !kind_ok {
        return false;
    }
    let (body, check) = candidate.split_at(SECRET_LEN - CHECKSUM_LEN);
    body[PREFIX_LEN..]
        .bytes()
        .chain(check.bytes())
        // BASE62 is exactly the ASCII letters and digits.
        .all(|b| b.is_ascii_alphanumeric())
        && checksum(body.as_bytes()) == check
}

/// Lowercase hex SHA-256 of the secret: what the database stores and looks up.
pub fn digest(secret: &str) -> String {
    super::hex::encode(&Sha256::digest(secret.as_bytes()))
}

pub fn last_four(secret: &str) -> String {
    let start = secret.len().saturating_sub(4);
    secret.get(start..).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_have_the_format() {
        for kind in [TokenKind::Personal, TokenKind::Service] {
            let s = NewSecret::generate(kind);
            let v = s.expose();
            assert_eq!(v.len(), SECRET_LEN);
            assert!(v.starts_with(kind.secret_prefix()));
            assert!(is_well_formed(v), "{v}");
            assert_eq!(s.last_four(), &v[v.len() - 4..]);
            assert_eq!(s.digest().len(), 64);
        }
    }

    #[test]
    fn a_typo_fails_the_checksum() {
        let s = NewSecret::generate(TokenKind::Personal).into_exposed();
        let mut bytes = s.clone().into_bytes();
        bytes[10] = if bytes[10] == b'a' { b'b' } else { b'a' };
        let typo = String::from_utf8(bytes).unwrap();
        assert!(!is_well_formed(&typo));
        assert!(!is_well_formed(&s[..s.len() - 1]));
        assert!(!is_well_formed(&s.replace("lk_pat_", "lk_xxx_")));
        assert!(!is_well_formed(""));
        assert!(!is_well_formed("lk_pat_ééééééééééééééééééééé"));
    }

    #[test]
    fn secrets_differ() {
        let a = NewSecret::generate(TokenKind::Service).into_exposed();
        let b = NewSecret::generate(TokenKind::Service).into_exposed();
        assert_ne!(a, b);
    }
}
