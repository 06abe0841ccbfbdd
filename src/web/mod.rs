//! The HTML front door: sessions, CSRF, layout and one module per page.

pub mod assets;
pub mod client_ip;
pub mod csrf;
pub mod error;
pub mod flash;
pub mod form;
pub mod format;
pub mod htmx;
pub mod layout;
pub mod limits;
pub mod login;
pub mod security;
pub mod session;
pub mod settings;
pub mod tokens;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::response::Redirect;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::csrf::CsrfLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::SqliteStore;
use tracing::Level;

use crate::AppState;
use crate::domain::redirect::HOME;

/// The session cookie's name; `__Host-` is not used because local plain-HTTP
/// use must work.
pub const SESSION_COOKIE: &str = "latchkey_session";

/// The whole application: pages, static assets and health check, with the
/// security middleware every response passes through.
pub fn router(state: AppState, sessions: SqliteStore) -> Router {
    let session_layer = SessionManagerLayer::new(sessions)
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.secure_cookies)
        .with_expiry(Expiry::OnInactivity(state.config.session_idle));

    // Pages that use the session. The CSRF checks are route layers, so an
    // unknown method is answered 405 before anything asks for a token.
    let pages = Router::new()
        .route("/", get(|| async { Redirect::to(HOME) }))
        .route("/login", get(login::show).post(login::submit))
        .route("/logout", post(login::sign_out))
        .route("/settings/audit", get(settings::audit_log))
        .merge(tokens::routes())
        .route_layer(middleware::from_fn(csrf::verify_token))
        .route_layer(CsrfLayer::new().with_rejection_response(csrf::cross_origin_rejected))
        .layer(session_layer);

    Router::new()
        // No session and no database: a load balancer may poll this hard.
        .route("/healthz", get(|| async { "ok" }))
        .route("/static/{*path}", get(assets::serve))
        .merge(crate::api::router())
        .merge(pages)
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(limits::MAX_BODY_BYTES))
        .layer(middleware::from_fn(limits::refuse_oversized_bodies))
        // Inside the headers layer, so even a panic's page carries them.
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(middleware::from_fn(security::headers))
        .layer(
            TraceLayer::new_for_http()
                // Path only: query strings may carry search terms, and
                // nothing secret is ever allowed into a URL anyway.
                .make_span_with(|req: &axum::http::Request<_>| {
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
}
