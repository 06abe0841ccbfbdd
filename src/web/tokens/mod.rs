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
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::AppState;
use crate::clock::now_ms;
use crate::tokens::{Caller, Issued, TokenError};

use super::error::PageError;
use super::flash::{self, PendingSecret};
use super::htmx::{HtmxResponse, error_dialog};
use super::session::SignedIn;
use row::{RowFragment, TokenRow};
use secret::SecretDialog;

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
        via_token: None,
        owner_id: None,
    }
}

/// The `{id}` of a token route. Whatever is there (even bytes that are not
/// UTF-8) is at worst an unknown token: a 404 page, never a bare 400.
pub struct TokenId(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for TokenId {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, PageError> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(id)| TokenId(id))
            .map_err(|_| PageError::NotFound)
    }
}

/// A refused action: inside the dialog for htmx, a full page otherwise.
fn refuse(e: TokenError, htmx: bool) -> Result<Response, PageError> {
    if htmx {
        Ok(error_dialog(e))
    } else {
        Err(page_error(e))
    }
}

/// The answer to an action that issued a secret (create, clone, reset).
/// With htmx: the "Copy your new token" dialog, the token's row swapped in
/// out of band as `row_swap` says, and the announcement. Without: the secret
/// and the message wait in the session for the list page, shown once.
async fn secret_issued(
    state: &AppState,
    signed_in: &SignedIn,
    caller: Caller<'_>,
    issued: Issued,
    htmx: bool,
    row_swap: &str,
    message: String,
) -> Result<Response, PageError> {
    let token = &issued.token;
    if htmx {
        let row = TokenRow::new(token, caller, now_ms());
        return Ok(HtmxResponse::new(SecretDialog {
            secret: &issued.secret,
            token_id: &token.id,
            in_dialog: true,
        })
        .retarget("#dialog-content", "innerHTML")
        .with(RowFragment {
            row: &row,
            csrf_token: &signed_in.csrf_token,
            oob: row_swap,
        })
        .announce(&message)
        .into_response());
    }
    flash::set_secret(
        &signed_in.session,
        &state.pending_secrets,
        PendingSecret {
            token_id: token.id.clone(),
            token_name: token.name.clone(),
            secret: issued.secret,
        },
    )
    .await?;
    flash::set_message(&signed_in.session, message).await?;
    Ok(Redirect::to(LIST_URL).into_response())
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
