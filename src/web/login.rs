//! Signing in and out.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use super::error::{PageError, render};
use super::form::WebForm;
use super::layout::Layout;
use super::session::{CSRF_TOKEN, MEMBER_ID, csrf_token, new_csrf_token};
use crate::AppState;
use crate::domain::audit::AuditAction;
use crate::domain::email::{MAX_EMAIL_LEN, normalize_email};
use crate::domain::password::{dummy_hash, verify_password};
use crate::domain::redirect::{HOME, safe_local_path};
use crate::http::ClientIp;
use crate::store::NewAuditEvent;

pub const INVALID_CREDENTIALS: &str = "Invalid email or password";

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub layout: Layout,
    pub email: String,
    pub next: String,
    pub error: Option<String>,
    pub notice: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    signed_out: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    session: Session,
    query: Result<Query<LoginQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    // A malformed query string is treated as an empty one.
    let query = query.ok().map(|Query(q)| q);
    let next = query
        .as_ref()
        .and_then(|q| q.next.as_deref())
        .and_then(safe_local_path)
        .unwrap_or(HOME)
        .to_string();
    // Already signed in (and still a member): go straight on.
    if let Some(id) = session.get::<String>(MEMBER_ID).await?
        && state.store.find_member(&id).await?.is_some()
    {
        return Ok(Redirect::to(&next).into_response());
    }
    let notice = query
        .and_then(|q| q.signed_out)
        .map(|_| "You have signed out.".to_string());
    let page = LoginPage {
        layout: Layout::public("Sign in", csrf_token(&session).await?),
        email: String::new(),
        next,
        error: None,
        notice,
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    WebForm(form): WebForm<LoginForm>,
) -> Result<Response, PageError> {
    let next = safe_local_path(&form.next).unwrap_or(HOME).to_string();
    // Keep what was typed (bounded) so the member need not retype it.
    let typed_email: String = form.email.trim().chars().take(MAX_EMAIL_LEN).collect();
    let ip_key = format!("ip:{ip}");
    let email_key = format!("email:{}", typed_email.to_lowercase());

    // The attempt is counted before the password is checked (and given
    // back if it succeeds), so parallel guesses cannot slip past the limit.
    let throttle = &state.sign_in_throttle;
    let keys = [ip_key.as_str(), email_key.as_str()];
    if let Err(wait) = throttle.begin_attempt(&keys) {
        let secs = wait.as_secs().max(1);
        let email = normalize_email(&form.email).ok();
        let event = NewAuditEvent {
            action: AuditAction::SignInThrottled,
            actor_email: email.as_deref(),
            client_ip: Some(ip.clone()),
            detail: Some(format!("refused for {secs} s")),
            ..NewAuditEvent::default()
        };
        state.audit_sparingly(&ip, &event).await;
        let page = LoginPage {
            layout: Layout::public("Sign in", csrf_token(&session).await?),
            email: typed_email,
            next,
            error: Some(format!("Too many sign-in attempts, try again in {secs} s")),
            notice: None,
        };
        let mut res = render(StatusCode::TOO_MANY_REQUESTS, &page);
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return Ok(res);
    }

    let normalized = normalize_email(&form.email).ok();
    let found = match &normalized {
        Some(email) => state.store.find_member_credentials(email).await?,
        None => None,
    };
    // Verify against a dummy hash when the member is unknown, so the answer
    // takes as long either way. Argon2 is CPU-heavy: keep it off the runtime.
    let password = form.password;
    let hash = found
        .as_ref()
        .map(|(_, hash)| hash.clone())
        .unwrap_or_else(|| dummy_hash().to_string());
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|e| anyhow::anyhow!("password verification task failed: {e}"))?;

    let member = match found {
        Some((member, _)) if matches => member,
        _ => {
            state
                .store
                .record_audit(&NewAuditEvent {
                    action: AuditAction::SignInFailed,
                    actor_email: normalized.as_deref(),
                    client_ip: Some(ip),
                    ..NewAuditEvent::default()
                })
                .await?;
            let page = LoginPage {
                layout: Layout::public("Sign in", csrf_token(&session).await?),
                email: typed_email,
                next,
                error: Some(INVALID_CREDENTIALS.to_string()),
                notice: None,
            };
            return Ok(render(StatusCode::UNAUTHORIZED, &page));
        }
    };

    throttle.succeeded(&keys);
    // A new session id (no fixation) and a new CSRF token for the new identity.
    session.cycle_id().await?;
    session.insert(MEMBER_ID, &member.id).await?;
    session.insert(CSRF_TOKEN, new_csrf_token()).await?;
    state.store.record_sign_in(&member, ip).await?;
    tracing::info!(member_id = %member.id, "signed in");
    Ok(Redirect::to(&next).into_response())
}

pub async fn sign_out(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
) -> Result<Response, PageError> {
    if let Some(id) = session.get::<String>(MEMBER_ID).await? {
        let member = state.store.find_member(&id).await?;
        state
            .store
            .record_audit(&NewAuditEvent {
                action: AuditAction::SignOut,
                actor_member_id: Some(&id),
                actor_email: member.as_ref().map(|m| m.email.as_str()),
                client_ip: Some(ip),
                ..NewAuditEvent::default()
            })
            .await?;
    }
    // Deletes the session from the store: the old cookie is now worthless.
    session.flush().await?;
    Ok(Redirect::to("/login?signed_out=1").into_response())
}
