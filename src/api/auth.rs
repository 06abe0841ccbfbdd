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
use crate::domain::policy::Actor;
use crate::domain::secret;
use crate::domain::token::{TokenKind, TokenRole};
use crate::http::ClientIp;
use crate::store::Member;
use crate::store::credentials::TokenAuth;
use crate::tokens::{Acting, Caller};
use crate::usage::Use;

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
    /// The caller as the rules see it: a member through a personal token,
    /// or the organization through a service token.
    pub fn actor(&self) -> Actor<'_> {
        match self.token.kind {
            TokenKind::Personal => Actor::PersonalToken {
                member_id: &self.token.member_id,
                role: self.role,
            },
            TokenKind::Service => Actor::ServiceToken { role: self.role },
        }
    }
}

/// An authenticated caller ready for the token operations: with a personal
/// token, its member as stored now (the audit log names them).
#[derive(Debug, Clone)]
pub struct ApiActor {
    pub caller: ApiCaller,
    member: Option<Member>,
}

impl ApiActor {
    /// Who acts, for `crate::tokens`.
    pub fn caller(&self) -> Caller<'_> {
        let acting = match &self.member {
            Some(member) => Acting::PersonalToken {
                member,
                token: &self.caller.token,
                role: self.caller.role,
            },
            None => Acting::ServiceToken {
                token: &self.caller.token,
            },
        };
        Caller {
            acting,
            client_ip: &self.caller.client_ip,
        }
    }

    pub fn actor(&self) -> Actor<'_> {
        self.caller.actor()
    }
}

impl FromRequestParts<AppState> for ApiActor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = ApiCaller::from_request_parts(parts, state).await?;
        let member = match caller.token.kind {
            TokenKind::Service => None,
            TokenKind::Personal => Some(
                state
                    .store
                    .find_member(&caller.token.member_id)
                    .await?
                    .ok_or_else(ApiError::unauthorized)?,
            ),
        };
        Ok(ApiActor { caller, member })
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
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(presented_secret)
            .filter(|s| secret::is_well_formed(s));
        let now = state.clock.now_ms();
        // A malformed secret is refused without asking the store; a
        // well-formed one is looked up once the index is provably current.
        let found = match presented {
            Some(s) => state.store.authenticate(&secret::digest(s), now).await?,
            None => None,
        };
        match found {
            Some(a) => {
                // Bytes that are not UTF-8 (header values may carry
                // Latin-1) become U+FFFD rather than losing the whole agent;
                // valid ones are borrowed, not copied.
                let user_agent = parts
                    .headers
                    .get(header::USER_AGENT)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()))
                    .unwrap_or_default();
                state.usage.note(Use {
                    token_id: &a.token.id,
                    at_ms: now,
                    old_secret: a.old_secret,
                    client_ip: &client_ip,
                    user_agent: &user_agent,
                });
                Ok(ApiCaller {
                    token: a.token,
                    role: a.role,
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
