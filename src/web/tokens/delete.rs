//! Deleting a token, after a confirmation.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum_htmx::HxRequest;

use super::{LIST_URL, TokenId, caller, refuse};
use crate::AppState;
use crate::tokens::{self};
use crate::web::client_ip::ClientIp;
use crate::web::error::PageError;
use crate::web::flash;
use crate::web::htmx::HtmxResponse;
use crate::web::layout::Layout;
use crate::web::session::SignedIn;

pub struct DeleteConfirm {
    pub token_id: String,
    pub token_name: String,
    pub csrf_token: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "tokens/delete_page.html")]
pub struct DeletePage {
    pub layout: Layout,
    pub confirm: DeleteConfirm,
    pub in_dialog: bool,
}

#[derive(Template)]
#[template(path = "tokens/delete_dialog.html")]
pub struct DeleteDialog {
    pub confirm: DeleteConfirm,
    pub in_dialog: bool,
}

pub async fn page(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    TokenId(id): TokenId,
) -> Result<Response, PageError> {
    let token = match tokens::get_manageable(&state.store, caller(&signed_in, &ip), &id).await {
        Ok(token) => token,
        Err(e) => return refuse(e, htmx),
    };
    let confirm = DeleteConfirm {
        token_id: token.id.clone(),
        token_name: token.name.clone(),
        csrf_token: signed_in.csrf_token.clone(),
    };
    if htmx {
        return Ok(HtmxResponse::new(DeleteDialog {
            confirm,
            in_dialog: true,
        })
        .into_response());
    }
    Ok(DeletePage {
        layout: Layout::settings("Delete token?", &signed_in),
        confirm,
        in_dialog: false,
    }
    .into_response())
}

pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    TokenId(id): TokenId,
) -> Result<Response, PageError> {
    let deleted = match tokens::delete(&state.store, caller(&signed_in, &ip), &id).await {
        Ok(token) => token,
        Err(e) => return refuse(e, htmx),
    };
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
    flash::set_message(&signed_in.session, message).await?;
    Ok(Redirect::to(LIST_URL).into_response())
}
