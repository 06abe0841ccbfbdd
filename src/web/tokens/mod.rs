//! The Authorization page and every token action on it. Each action is a
//! full page and a plain form post without JavaScript, and an htmx fragment
//! (dialog content, the changed row, the status message) with it.

mod bulk;
mod clone;
mod create;
mod delete;
mod details;
mod edit;
mod end_grace;
mod form;
mod list;
mod reset;
mod row;
mod secret;
mod suspend;

use axum::Router;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::AppState;
use crate::http::compression::holds_secret;
use crate::tokens::Issued;

use super::error::PageError;
use super::flash::{self, PendingSecret};
use super::htmx::{ActionFrame, HtmxResponse};
use super::layout::Section;
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
            "/settings/authorization/tokens/bulk-delete",
            get(bulk::page).post(bulk::submit),
        )
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
            "/settings/authorization/tokens/{id}/suspend",
            post(suspend::suspend),
        )
        .route(
            "/settings/authorization/tokens/{id}/resume",
            post(suspend::resume),
        )
        .route("/settings/authorization/tokens/{id}", get(details::page))
        .route(
            "/settings/authorization/tokens/{id}/end-grace",
            get(end_grace::page).post(end_grace::submit),
        )
        .route(
            "/settings/authorization/tokens/{id}/delete",
            get(delete::page).post(delete::submit),
        )
}

pub const LIST_URL: &str = "/settings/authorization";

/// The `{id}` of a token route, refused with the pages' 404.
type TokenId = crate::http::TokenId<PageError>;

/// How a token action's form or confirmation is framed: a dialog that hands
/// focus back to the token's Actions button, or a page in Authorization.
fn action_frame<'a>(heading: &'a str, alert: bool, token_id: Option<&'a str>) -> ActionFrame<'a> {
    ActionFrame {
        heading,
        alert,
        return_focus: token_id,
        section: Section::Authorization,
    }
}

/// A question to confirm before a token action that cannot be undone
/// (delete, end grace): an alertdialog that hands focus back to the token's
/// Actions button, or the same on a page of its own.
fn confirmation<T: askama::Template>(
    htmx: bool,
    signed_in: &SignedIn,
    heading: &str,
    token_id: &str,
    body: impl FnOnce(bool) -> T,
) -> Response {
    super::htmx::dialog_or_page(
        htmx,
        signed_in,
        action_frame(heading, true, Some(token_id)),
        axum::http::StatusCode::OK,
        body,
    )
}

/// After a change without JavaScript: back to the list, where `message` is
/// shown once.
async fn back_to_list(signed_in: &SignedIn, message: String) -> Result<Response, PageError> {
    flash::set_message(&signed_in.session, message).await?;
    Ok(Redirect::to(LIST_URL).into_response())
}

/// The answer to an action that changed a token in place (edit, suspend,
/// resume, end grace): with htmx, its row swapped in, the announcement, and
/// focus back on the row's Actions button (closing the dialog if one is
/// open); without, back to the list with the message.
async fn row_changed(
    state: &AppState,
    signed_in: &SignedIn,
    token: &crate::store::Token,
    htmx: bool,
    message: String,
) -> Result<Response, PageError> {
    if htmx {
        let row = TokenRow::new(token, signed_in.caller(), state.clock.now_ms());
        return Ok(HtmxResponse::empty()
            .with(RowFragment {
                row: &row,
                oob: "true",
            })
            .announce(&message)
            .trigger_after_settle(
                "latchkey:dialog-done",
                serde_json::json!({ "focus": format!("#actions-{}", token.id) }),
            )
            .into_response());
    }
    back_to_list(signed_in, message).await
}

/// The answer to an action that issued a secret (create, clone, reset).
/// With htmx: the "Copy your new token" dialog, the token's row swapped in
/// out of band as `row_swap` says, and the announcement. Without: the secret
/// and the message wait in the session for the list page, shown once.
async fn secret_issued(
    state: &AppState,
    signed_in: &SignedIn,
    issued: Issued,
    htmx: bool,
    row_swap: &str,
    message: String,
) -> Result<Response, PageError> {
    let token = &issued.token;
    if htmx {
        let row = TokenRow::new(token, signed_in.caller(), state.clock.now_ms());
        let dialog = HtmxResponse::new(SecretDialog {
            secret: &issued.secret,
            token_id: &token.id,
            in_dialog: true,
        })
        .retarget("#dialog-content", "innerHTML")
        .with(RowFragment {
            row: &row,
            oob: row_swap,
        })
        .announce(&message)
        .into_response();
        return Ok((holds_secret(), dialog).into_response());
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
    back_to_list(signed_in, message).await
}
