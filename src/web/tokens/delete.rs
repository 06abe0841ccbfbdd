//! Deleting a token, after a confirmation.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum_htmx::HxRequest;

use super::{TokenId, back_to_list, confirmation};
use crate::AppState;
use crate::store::Token;
use crate::tokens;
use crate::web::error::PageError;
use crate::web::htmx::HtmxResponse;
use crate::web::session::SignedIn;

/// "Delete token?": what will happen, Cancel (focused first) and the
/// danger button.
#[derive(Template)]
#[template(path = "tokens/delete_form.html")]
struct DeleteForm<'a> {
    token: &'a Token,
    csrf_token: &'a str,
    in_dialog: bool,
}

pub async fn page(
    State(state): State<AppState>,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    TokenId { id, .. }: TokenId,
) -> Result<Response, PageError> {
    let token = tokens::get_manageable(&state.store, signed_in.caller(), &id).await?;
    Ok(confirmation(
        htmx,
        &signed_in,
        "Delete token?",
        &token.id,
        |in_dialog| DeleteForm {
            token: &token,
            csrf_token: &signed_in.csrf_token,
            in_dialog,
        },
    ))
}

pub async fn submit(
    State(state): State<AppState>,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    TokenId { id, .. }: TokenId,
) -> Result<Response, PageError> {
    let deleted = tokens::delete(&state.store, signed_in.caller(), &id).await?;
    let message = format!("Deleted {}", deleted.name);
    if htmx {
        // app.js picks the neighbour to focus on `row-deleted`, which fires
        // before the row is swapped away.
        return Ok(HtmxResponse::empty()
            .retarget(format!("#row-{}", deleted.id), "delete")
            .announce(&message)
            .trigger(
                "latchkey:row-deleted",
                serde_json::json!({ "id": deleted.id }),
            )
            .into_response());
    }
    back_to_list(&signed_in, message).await
}
