//! CSRF protection in two layers: tower-http's Sec-Fetch-Site/Origin check,
//! and a per-session token that every state-changing request must present,
//! in the `csrf_token` form field or, from htmx, the `X-CSRF-Token` header.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use tower_http::csrf::ProtectionError;
use tower_sessions::Session;

use super::error::PageError;
use super::session::{CSRF_TOKEN, MEMBER_ID, sign_in_redirect};
use crate::AppState;
use crate::domain::audit::AuditAction;
use crate::http::ClientIp;
use crate::http::limits::MAX_BODY_BYTES;
use crate::store::NewAuditEvent;

pub const FORM_FIELD: &str = "csrf_token";
pub const HEADER: &str = "x-csrf-token";

/// Checks the per-session token on every unsafe request. The form body is
/// buffered (it is small: bodies are capped) and handed on untouched.
/// Refusals are audited (sparingly: see `AppState::audit_sparingly`).
pub async fn verify_token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    req: Request,
    next: Next,
) -> Response {
    if req.method().is_safe() {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let session_data = async {
        let expected = session.get::<String>(CSRF_TOKEN).await?;
        let member = session.get::<String>(MEMBER_ID).await?;
        Ok::<_, tower_sessions::session::Error>((expected, member))
    }
    .await;
    let (expected, member) = match session_data {
        Ok(data) => data,
        Err(e) => return PageError::from(e).into_response(),
    };
    // A signed-out visitor posting anywhere but the sign-in form has an
    // expired session: send them to sign in and back, nothing changes.
    if member.is_none() && parts.uri.path() != "/login" {
        return sign_in_redirect(&parts.method, &parts.uri, &parts.headers);
    }

    let (presented, body) = match header_token(&parts.headers) {
        Some(token) => (Some(token), body),
        None if is_form(&parts.headers) => {
            let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
                Ok(bytes) => bytes,
                Err(_) => return PageError::PayloadTooLarge.into_response(),
            };
            (form_token(&bytes), Body::from(bytes))
        }
        None => (None, body),
    };
    let valid = matches!((&expected, presented.as_deref().and_then(unmask)),
        (Some(e), Some(p)) if bool::from(e.as_bytes().ct_eq(p.as_bytes())));
    if !valid {
        tracing::info!(path = %parts.uri.path(), "refused a request with a missing or stale CSRF token");
        let detail = format!(
            "{} {}: missing or stale CSRF token",
            parts.method,
            parts.uri.path()
        );
        audit_refusal(&state, &ip, member.as_deref(), detail).await;
        return stale_form_page(&parts);
    }
    next.run(Request::from_parts(parts, body)).await
}

/// The token as a page carries it: a random pad and the token XOR the pad,
/// in hex. A new pad every time, so the same token never appears twice in
/// responses: compressing a page that also reflects what someone typed (a
/// search) cannot leak it byte by byte (BREACH).
pub fn mask(token: &str) -> String {
    let raw = decode_hex(token).unwrap_or_else(|| token.as_bytes().to_vec());
    let mut pad = vec![0u8; raw.len()];
    crate::domain::random::fill(&mut pad);
    let masked: Vec<u8> = pad.iter().zip(&raw).map(|(p, t)| p ^ t).collect();
    let mut out = crate::domain::hex::encode(&pad);
    out.push_str(&crate::domain::hex::encode(&masked));
    out
}

/// The token a page sent back, unmasked (in the session's hex form); `None`
/// when it is not a masked token at all.
fn unmask(presented: &str) -> Option<String> {
    let decoded = decode_hex(presented)?;
    if decoded.is_empty() || decoded.len() % 2 != 0 {
        return None;
    }
    let (pad, masked) = decoded.split_at(decoded.len() / 2);
    let raw: Vec<u8> = pad.iter().zip(masked).map(|(p, m)| p ^ m).collect();
    Some(crate::domain::hex::encode(&raw))
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

fn header_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"))
}

fn form_token(body: &Bytes) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(key, _)| key == FORM_FIELD)
        .map(|(_, value)| value.into_owned())
}

/// 403 for a stale or missing token: explains and offers a fresh copy of the
/// page the form came from (htmx shows the same in the dialog).
fn stale_form_page(parts: &Parts) -> Response {
    let back = parts
        .headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_string()))
        .and_then(|p| crate::domain::redirect::safe_local_path(&p).map(str::to_string))
        // Without a Referer, a page that can always be loaded: the form's own
        // address may accept only POST.
        .unwrap_or_else(|| {
            if parts.uri.path() == "/login" {
                "/login".to_string()
            } else {
                crate::domain::redirect::HOME.to_string()
            }
        });
    PageError::StaleForm { back }.into_response()
}

/// The response tower-http's origin check gives a cross-site request; the
/// request itself is audited by [`audit_cross_origin`], which sees it.
pub fn cross_origin_rejected(_error: ProtectionError) -> Response<Body> {
    let mut res = PageError::CrossOrigin.into_response();
    res.extensions_mut().insert(CrossOriginRefused);
    res
}

/// Audits the cross-site requests that tower-http's check (inside this
/// layer) refused: its rejection hook sees neither the request nor the
/// state.
pub async fn audit_cross_origin(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    req: Request,
    next: Next,
) -> Response {
    let what = format!("{} {}", req.method(), req.uri().path());
    let res = next.run(req).await;
    if res.extensions().get::<CrossOriginRefused>().is_some() {
        audit_refusal(&state, &ip, None, format!("{what}: cross-site request")).await;
    }
    res
}

/// Marks the response to a refused cross-site request.
#[derive(Debug, Clone, Copy)]
pub struct CrossOriginRefused;

async fn audit_refusal(state: &AppState, ip: &str, member_id: Option<&str>, detail: String) {
    let member = match member_id {
        Some(id) => state.store.find_member(id).await.ok().flatten(),
        None => None,
    };
    let event = NewAuditEvent {
        action: AuditAction::CsrfRefused,
        actor_member_id: member.as_ref().map(|m| m.id.as_str()),
        actor_email: member.as_ref().map(|m| m.email.as_str()),
        client_ip: Some(ip.to_string()),
        detail: Some(detail),
        ..NewAuditEvent::default()
    };
    state.audit_sparingly(ip, &event).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_tokens_differ_every_time_and_unmask_to_the_token() {
        let token = crate::domain::random::hex_token(32);
        let (a, b) = (mask(&token), mask(&token));
        assert_ne!(a, b);
        assert!(!a.contains(&token));
        assert_eq!(a.len(), 128);
        assert_eq!(unmask(&a).as_deref(), Some(token.as_str()));
        assert_eq!(unmask(&b).as_deref(), Some(token.as_str()));
        assert_eq!(unmask("not hex at all, not even close to it!"), None);
        assert_ne!(unmask(&a[..a.len() - 2]).as_deref(), Some(token.as_str()));
        // The bare token is not a masked one.
        assert_ne!(unmask(&token).as_deref(), Some(token.as_str()));
    }
}
