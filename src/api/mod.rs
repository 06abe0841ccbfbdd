//! The JSON REST API, `/api/v2`, in the shape of LaunchDarkly's. Requests
//! authenticate with an access token, never a session, so none of the page
//! middleware (sessions, CSRF) applies here, and no CORS headers are sent.
//! Two routes are for machines other than scripts: `auth/verify` answers a
//! reverse proxy's forward-authentication check, and `credentials/revoke`
//! takes leaked-secret reports without any token.

pub mod audit;
pub mod auth;
pub mod credentials;
pub mod error;
pub mod forward_auth;
pub mod members;
pub mod model;
pub mod openapi;
pub mod tokens;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{any, get, post};

use crate::AppState;
use crate::http::limits::{self, MAX_BODY_BYTES};
use error::ApiError;

/// Every `/api` route; anything under `/api` that is not one answers JSON.
pub fn router() -> Router<AppState> {
    let v2 = Router::new()
        .route("/caller-identity", get(tokens::caller_identity))
        .route("/auth/verify", get(forward_auth::verify))
        .route("/credentials/revoke", post(credentials::revoke))
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route(
            "/tokens/{id}",
            get(tokens::get).patch(tokens::patch).delete(tokens::delete),
        )
        .route("/tokens/{id}/reset", post(tokens::reset))
        .route("/tokens/{id}/clone", post(tokens::clone))
        .route("/tokens/bulk-delete", post(tokens::bulk_delete))
        .route("/tokens/{id}/suspend", post(tokens::suspend))
        .route("/tokens/{id}/resume", post(tokens::resume))
        .route("/tokens/{id}/end-grace", post(tokens::end_grace))
        .route("/tokens/{id}/uses", get(tokens::uses))
        .route("/members", get(members::list))
        .route(
            "/members/{id}",
            axum::routing::patch(members::patch).delete(members::delete),
        )
        .route("/auditlog", get(audit::list))
        .route("/openapi.json", get(openapi::document))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed);
    // Everything else under /api answers in JSON too, not with the HTML 404.
    Router::new()
        .nest("/api/v2", v2)
        .route("/api", any(error::not_found))
        .route("/api/", any(error::not_found))
        .route("/api/v2/", any(error::not_found))
        .route("/api/{*rest}", any(error::not_found))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(
            limits::refuse_oversized_bodies::<ApiError>,
        ))
}
