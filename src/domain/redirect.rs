//! Where a member may be sent after signing in.

/// The page a signed-in member lands on when there is nowhere else to go.
pub const HOME: &str = "/settings/authorization";

/// Returns `next` when it is a path on this site, else `None`.
///
/// Only an absolute path qualifies: `//host` and `/\host` are protocol-relative
/// URLs to another site in browsers, and anything with a scheme, control
/// characters or backslashes is refused outright, so the sign-in page can never
/// be used as an open redirect.
pub fn safe_local_path(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= 2048
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control() || c.is_whitespace());
    ok.then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_local_paths() {
        assert_eq!(
            safe_local_path("/settings/audit?page=2"),
            Some("/settings/audit?page=2")
        );
        assert_eq!(safe_local_path("/"), Some("/"));
    }

    #[test]
    fn refuses_other_sites() {
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "evil.example",
            "javascript:alert(1)",
            "/\t/evil.example",
            "",
        ] {
            assert_eq!(safe_local_path(bad), None, "{bad:?}");
        }
    }
}
