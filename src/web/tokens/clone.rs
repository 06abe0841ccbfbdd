//! Cloning a token from its row's menu: posts at once, no form.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_htmx::HxRequest;

use super::row::{RowFragment, TokenRow};
use super::secret::SecretDialog;
use super::{LIST_URL, caller, page_error};
use crate::AppState;
use crate::clock::now_ms;
use crate::tokens;
use crate::web::client_ip::ClientIp;
use crate::web::error::PageError;
use crate::web::flash::{self, PendingSecret};
use crate::web::htmx::{HtmxResponse, error_dialog};
use crate::web::session::SignedIn;

pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let caller = caller(&signed_in, &ip);
    let issued = match tokens::clone(&state.store, caller, &id).await {
        Ok(issued) => issued,
        Err(e) if htmx => return Ok(error_dialog(e)),
        Err(e) => return Err(page_error(e)),
    };
    let token = &issued.token;
    let message = format!("Cloned token as {}. Copy its secret now.", token.name);
    if htmx {
        let row = TokenRow::new(token, caller, now_ms());
        let below_source = format!("afterend:#row-{id}");
        return Ok(HtmxResponse::new(SecretDialog {
            secret: &issued.secret,
            token_id: &token.id,
            in_dialog: true,
        })
        .retarget("#dialog-content", "innerHTML")
        .with(RowFragment {
            row: &row,
            csrf_token: &signed_in.csrf_token,
            oob: &below_source,
        })
        .announce(&message)
        .into_response());
    }
    flash::set_secret(
        &signed_in.session,
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
