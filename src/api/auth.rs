//! Who is calling: the secret in `Authorization` (raw, or after `Bearer `).
//!
//! The checksum is verified before anything else, then the digest is looked
//! up in the store's in-memory credential index (no database read). Every
//! failure counts against the client's address; past the limit, failures get
//! 429 while requests with a valid secret are never throttled.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::AppState;
use crate::clock::now_ms;
use crate::domain::policy::effective_role;
use crate::domain::secret;
use crate::domain::token::TokenRole;
use crate::store::credentials::TokenAuth;
use crate::web::client_ip::ClientIp;

/// An authenticated API request.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub token: TokenAuth,
    /// What the token may do now: for personal tokens the lower of its role
    /// and its member's current role.
    pub role: TokenRole,
    pub client_ip: String,
}

impl ApiCaller {
    /// Managing tokens needs an effective Admin role.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.role >= TokenRole::Admin {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "Managing access tokens needs an Admin token; this one acts as {}",
                self.role.label()
            )))
        }
    }
}

/// The secret from an `Authorization` header value.
fn presented_secret(value: &str) -> &str {
    let value = value.trim();
    match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => value,
    }
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ClientIp(client_ip) = ClientIp::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|never| match never {});
        let now = now_ms();
        let authenticated = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(presented_secret)
            .filter(|s| secret::is_well_formed(s))
            .and_then(|s| state.store.authenticate(&secret::digest(s), now))
            .and_then(|a| {
                effective_role(a.token.kind, a.token.role, a.member_role).map(|role| (a, role))
            });
        match authenticated {
            Some((a, role)) => {
                state.usage.note(&a.token.id, now);
                Ok(ApiCaller {
                    token: a.token,
                    role,
                    client_ip,
                })
            }
            None => {
                let key = format!("api:{client_ip}");
                match state.api_auth_throttle.fail(&key) {
                    Ok(()) => Err(ApiError::unauthorized()),
                    Err(wait) => Err(ApiError::rate_limited(wait)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::presented_secret;

    #[test]
    fn accepts_raw_and_bearer() {
        assert_eq!(presented_secret("lk_pat_x"), "lk_pat_x");
        assert_eq!(presented_secret("Bearer lk_pat_x"), "lk_pat_x");
        assert_eq!(presented_secret("bearer  lk_pat_x "), "lk_pat_x");
        assert_eq!(presented_secret("Basic abc"), "Basic abc");
    }
}
