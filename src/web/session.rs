//! Who is signed in: the session keys, the `SignedIn` extractor, and the
//! redirect to the sign-in page when nobody is.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use super::error::PageError;
use super::layout::{Layout, Section};
use crate::AppState;
use crate::domain::policy::Actor;
use crate::domain::random;
use crate::domain::redirect::{HOME, safe_local_path};
use crate::http::ClientIp;
use crate::store::Member;
use crate::tokens::Caller;

/// Session keys. The session holds ids and tokens only, never secrets.
pub const MEMBER_ID: &str = crate::store::sessions::MEMBER_ID_KEY;
pub const CSRF_TOKEN: &str = "csrf_token";

/// The session's CSRF token as it goes into a page: masked afresh for
/// every response (`csrf::mask`), so that compressed pages reveal nothing
/// about it by their length. Created on first use.
pub async fn csrf_token(session: &Session) -> Result<String, PageError> {
    if let Some(token) = session.get::<String>(CSRF_TOKEN).await? {
        return Ok(super::csrf::mask(&token));
    }
    let token = new_csrf_token();
    session.insert(CSRF_TOKEN, &token).await?;
    Ok(super::csrf::mask(&token))
}

pub fn new_csrf_token() -> String {
    random::hex_token(32)
}

/// A signed-in member, loaded fresh on every request so a changed role or a
/// removed member takes effect at once.
pub struct SignedIn {
    pub member: Member,
    pub csrf_token: String,
    pub session: Session,
    /// Where the request came from, for the audit log.
    pub client_ip: String,
}

impl SignedIn {
    /// The member as the token operations see them.
    pub fn caller(&self) -> Caller<'_> {
        Caller::member(&self.member, &self.client_ip)
    }

    /// The member as the rules see them.
    pub fn actor(&self) -> Actor<'_> {
        self.caller().actor()
    }

    /// The frame of a settings page in `section`.
    pub fn layout(&self, title: impl Into<String>, section: Section) -> Layout {
        Layout {
            title: title.into(),
            csrf_token: self.csrf_token.clone(),
            member: Some(self.member.clone()),
            section,
            flash: None,
        }
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(status, msg)| (status, msg).into_response())?;
        let member_id = session
            .get::<String>(MEMBER_ID)
            .await
            .map_err(|e| PageError::from(e).into_response())?;
        let Some(member_id) = member_id else {
            return Err(sign_in_redirect(&parts.method, &parts.uri, &parts.headers));
        };
        let member = state
            .store
            .current_member(&member_id)
            .await
            .map_err(|e| PageError::from(e).into_response())?;
        let Some(member) = member else {
            // Removed while signed in: end the session.
            let _ = session.flush().await;
            return Err(sign_in_redirect(&parts.method, &parts.uri, &parts.headers));
        };
        let csrf_token = csrf_token(&session)
            .await
            .map_err(IntoResponse::into_response)?;
        let ClientIp(client_ip) = ClientIp::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|never| match never {});
        Ok(SignedIn {
            member,
            csrf_token,
            session,
            client_ip,
        })
    }
}

/// Sends someone who is not signed in to `/login?next=…`, where `next` is the
/// page they were on. htmx requests get `HX-Redirect` so the whole page moves
/// instead of the sign-in form being swapped into a fragment.
pub fn sign_in_redirect(method: &Method, uri: &axum::http::Uri, headers: &HeaderMap) -> Response {
    let is_htmx = headers.contains_key("hx-request");
    let back = if is_htmx {
        headers
            .get("hx-current-url")
            .and_then(|v| v.to_str().ok())
            .and_then(path_of_url)
    } else if method == Method::GET || method == Method::HEAD {
        uri.path_and_query().map(|pq| pq.as_str().to_string())
    } else {
        headers
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
            .and_then(path_of_url)
    };
    let back = back
        .as_deref()
        .and_then(safe_local_path)
        .filter(|p| !p.starts_with("/login"))
        .unwrap_or(HOME);
    let target = format!("/login?next={}", encode_query_value(back));
    if is_htmx {
        let mut res = StatusCode::UNAUTHORIZED.into_response();
        if let Ok(value) = HeaderValue::from_str(&target) {
            res.headers_mut().insert("hx-redirect", value);
        }
        res
    } else {
        Redirect::to(&target).into_response()
    }
}

/// The path and query of an absolute URL (`http://host/a?b` → `/a?b`).
fn path_of_url(url: &str) -> Option<String> {
    let rest = url.split_once("://").map(|(_, rest)| rest)?;
    let start = rest.find('/')?;
    Some(rest[start..].split('#').next().unwrap_or("/").to_string())
}

pub fn encode_query_value(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_of_absolute_urls() {
        assert_eq!(
            path_of_url("http://127.0.0.1:8080/settings/audit?page=2#x").as_deref(),
            Some("/settings/audit?page=2")
        );
        assert_eq!(path_of_url("http://host").as_deref(), None);
        assert_eq!(path_of_url("/relative").as_deref(), None);
    }
}
