//! The HTML front door: sessions, CSRF, layout and one module per page.

pub mod assets;
pub mod audit;
pub mod csrf;
pub mod error;
pub mod flash;
pub mod form;
pub mod format;
pub mod htmx;
pub mod layout;
pub mod login;
pub mod members;
pub mod session;
pub mod token_policy;
pub mod tokens;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tower_http::csrf::CsrfLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::AppState;
use crate::config::Config;
use crate::domain::redirect::HOME;
use crate::http::limits::{self, MAX_BODY_BYTES};
use crate::store::sessions::Sessions;
use error::PageError;

/// The session cookie's name over plain HTTP (local use must work).
pub const SESSION_COOKIE: &str = "latchkey_session";

/// Its name with `--secure-cookies`: the `__Host-` prefix makes browsers
/// insist on `Secure`, `Path=/` and no `Domain`, so neither a plain-HTTP
/// page nor a sibling subdomain can set or overwrite it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-latchkey_session";

/// The session cookie's name for this configuration.
pub fn session_cookie_name(config: &Config) -> &'static str {
    if config.secure_cookies {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// Every page, the static assets and the health check. Everything that is
/// not the API lands here, so the pages' 404 is the fallback.
pub fn router(state: &AppState, sessions: Sessions) -> Router<AppState> {
    let config: &Config = &state.config;
    let watched = sessions.clone();
    let session_layer = SessionManagerLayer::new(sessions)
        .with_name(session_cookie_name(config))
        .with_path("/")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(config.secure_cookies)
        .with_expiry(Expiry::OnInactivity(config.session_idle));

    // Pages that use the session. The CSRF checks are route layers, so an
    // unknown method is answered 405 before anything asks for a token.
    let pages = Router::new()
        .route("/", get(|| async { Redirect::to(HOME) }))
        .route("/login", get(login::show).post(login::submit))
        .route("/logout", post(login::sign_out))
        .route("/settings/audit", get(audit::audit_log))
        .merge(members::routes())
        .merge(token_policy::routes())
        .merge(tokens::routes())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            csrf::verify_token,
        ))
        .route_layer(CsrfLayer::new().with_rejection_response(csrf::cross_origin_rejected))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            csrf::audit_cross_origin,
        ))
        .layer(session_layer)
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            let sessions = watched.clone();
            async move { session_failures(&sessions, next.run(req).await) }
        }));

    Router::new()
        .route("/healthz", get(healthz))
        .route("/static/{*path}", get(static_file))
        .merge(pages)
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(
            limits::refuse_oversized_bodies::<PageError>,
        ))
        // Outside everything above, so that refusals from the body limit,
        // the CSRF checks, extractors and handlers all become dialogs for
        // htmx.
        .layer(middleware::from_fn(htmx::errors_as_dialogs))
}

/// For load balancers, which may poll this hard: no session, no database
/// query; `ok`, or 503 while the store cannot serve (the database is
/// unreachable, or other instances' changes are not reaching this one).
async fn healthz(State(state): State<AppState>) -> Response {
    if state.store.is_healthy() {
        "ok".into_response()
    } else {
        let mut res = (StatusCode::SERVICE_UNAVAILABLE, "unavailable").into_response();
        res.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(error::RETRY_AFTER_SECS),
        );
        res
    }
}

/// tower-sessions answers a session it could not save with a bare, empty
/// 500 of its own. Say what happened instead: 503 when the database was
/// unreachable, the error page otherwise.
fn session_failures(sessions: &Sessions, res: Response) -> Response {
    let bare_500 = res.status() == StatusCode::INTERNAL_SERVER_ERROR
        && res.extensions().get::<error::ErrorDialog>().is_none();
    if !bare_500 {
        return res;
    }
    if sessions.last_failure_was_unwritable() {
        PageError::Unwritable("saving the session failed".into()).into_response()
    } else if sessions.last_failure_was_unavailable() {
        PageError::Unavailable("saving the session failed".into()).into_response()
    } else {
        PageError::Internal(anyhow::anyhow!("saving the session failed")).into_response()
    }
}

#[derive(Debug, Deserialize)]
struct AssetQuery {
    v: Option<String>,
}

async fn static_file(
    Path(path): Path<String>,
    query: Result<Query<AssetQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let version = query.ok().and_then(|Query(q)| q.v);
    assets::response(&path, version.as_deref(), &headers).ok_or(PageError::NotFound)
}
