//! Cloning a token from its row's menu: posts at once, no form.

use axum::extract::State;
use axum::response::Response;
use axum_htmx::HxRequest;

use super::{TokenId, caller, page_error, secret_issued};
use crate::AppState;
use crate::tokens;
use crate::web::client_ip::ClientIp;
use crate::web::error::PageError;
use crate::web::htmx::error_dialog;
use crate::web::session::SignedIn;

pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    TokenId(id): TokenId,
) -> Result<Response, PageError> {
    let caller = caller(&signed_in, &ip);
    let issued = match tokens::clone(&state.store, caller, &id).await {
        Ok(issued) => issued,
        Err(e) if htmx => return Ok(error_dialog(e)),
        Err(e) => return Err(page_error(e)),
    };
    let message = format!(
        "Cloned token as {}. Copy its secret now.",
        issued.token.name
    );
    let below_source = format!("afterend:#row-{id}");
    secret_issued(
        &state,
        &signed_in,
        caller,
        issued,
        htmx,
        &below_source,
        message,
    )
    .await
}
