//! The Authorization page and every token action on it. Each action is a
//! full page and a plain form post without JavaScript, and an htmx fragment
//! (dialog content, the changed row, the status message) with it.

mod clone;
mod create;
mod delete;
mod edit;
mod form;
mod list;
mod reset;
mod row;
mod secret;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;
use crate::tokens::{Caller, TokenError};

use super::error::PageError;
use super::session::SignedIn;

pub use list::authorization_page;

/// The token routes, all under `/settings/authorization`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/authorization", get(list::authorization_page))
        .route("/settings/authorization/tokens/new", get(create::new_page))
        .route("/settings/authorization/tokens", post(create::submit))
        .route(
            "/settings/authorization/tokens/{id}/edit",
            get(edit::page).post(edit::submit),
        )
        .route(
            "/settings/authorization/tokens/{id}/clone",
            post(clone::submit),
        )
        .route(
            "/settings/authorization/tokens/{id}/reset",
            get(reset::page).post(reset::submit),
        )
        .route(
            "/settings/authorization/tokens/{id}/delete",
            get(delete::page).post(delete::submit),
        )
}

pub const LIST_URL: &str = "/settings/authorization";

fn caller<'a>(signed_in: &'a SignedIn, client_ip: &'a str) -> Caller<'a> {
    Caller {
        member: &signed_in.member,
        client_ip,
    }
}

/// A token operation's failure as a full page (no JavaScript).
fn page_error(e: TokenError) -> PageError {
    match e {
        TokenError::NotFound => PageError::NotFound,
        TokenError::Forbidden(message) => PageError::Forbidden(message),
        TokenError::Invalid(errors) => PageError::BadRequest(
            errors
                .into_iter()
                .map(|e| e.message)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        TokenError::Conflict(message) => PageError::BadRequest(message),
        TokenError::Internal(e) => PageError::Internal(e),
    }
}
