//! Ending a reset's grace period early, after a confirmation that says
//! whether anything still uses the old secret.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use axum_htmx::HxRequest;
use serde::Deserialize;

use super::row::GraceLine;
use super::{TokenId, confirmation, row_changed};
use crate::AppState;
use crate::action::ActionError;
use crate::store::Token;
use crate::tokens;
use crate::web::error::PageError;
use crate::web::form::WebForm;
use crate::web::session::SignedIn;

/// "End grace period?": what stops working, whether it was used since the
/// reset, Cancel (focused first) and the danger button.
#[derive(Template)]
#[template(path = "tokens/end_grace_form.html")]
struct EndGraceForm<'a> {
    token: &'a Token,
    grace: GraceLine,
    csrf_token: &'a str,
    in_dialog: bool,
}

pub async fn page(
    State(state): State<AppState>,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    TokenId { id, .. }: TokenId,
) -> Result<Response, PageError> {
    let token = tokens::get_resettable(&state.store, signed_in.caller(), &id).await?;
    let Some(grace) = GraceLine::new(&token, state.clock.now_ms()) else {
        return Err(ActionError::Conflict(no_grace(&token)).into());
    };
    Ok(confirmation(
        htmx,
        &signed_in,
        "End grace period?",
        &token.id,
        |in_dialog| EndGraceForm {
            token: &token,
            grace,
            csrf_token: &signed_in.csrf_token,
            in_dialog,
        },
    ))
}

/// What the confirmation posts: the version of the token it showed, so a
/// reset since (which may have replaced a secret the member never saw
/// described) is a conflict, not silently ended too.
#[derive(Debug, Default, Deserialize)]
pub struct EndGraceInput {
    #[serde(default)]
    version: Option<String>,
}

pub async fn submit(
    State(state): State<AppState>,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    TokenId { id, .. }: TokenId,
    WebForm(input): WebForm<EndGraceInput>,
) -> Result<Response, PageError> {
    let seen = input.version.and_then(|v| v.trim().parse::<i64>().ok());
    let token = tokens::end_grace(&state.store, signed_in.caller(), &id, seen).await?;
    let message = format!(
        "Ended the grace period of {}: its old secret no longer works",
        token.name
    );
    row_changed(&state, &signed_in, &token, htmx, message).await
}

fn no_grace(token: &Token) -> String {
    format!(
        "{} has no old secret that still works: its grace period has ended",
        token.name
    )
}
