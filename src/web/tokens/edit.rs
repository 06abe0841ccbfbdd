//! Editing a token's name, description, role (personal tokens), API version
//! and expiry.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_htmx::HxRequest;

use super::create::render_form;
use super::form::{FieldErrors, TokenForm, TokenFormInput, parse_input};
use super::row::{RowFragment, TokenRow};
use super::{LIST_URL, caller, page_error};
use crate::AppState;
use crate::clock::now_ms;
use crate::domain::policy;
use crate::tokens::{self, EditRequest, TokenError};
use crate::web::client_ip::ClientIp;
use crate::web::error::PageError;
use crate::web::flash;
use crate::web::form::WebForm;
use crate::web::htmx::{HtmxResponse, error_dialog};
use crate::web::session::SignedIn;

fn refuse(e: TokenError, htmx: bool) -> Result<Response, PageError> {
    if htmx {
        Ok(error_dialog(e))
    } else {
        Err(page_error(e))
    }
}

pub async fn page(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let caller = caller(&signed_in, &ip);
    let token = match tokens::get(&state.store, caller, &id).await {
        Ok(token) => token,
        Err(e) => return refuse(e, htmx),
    };
    let actor = policy::Actor {
        member_id: &signed_in.member.id,
        role: signed_in.member.role,
    };
    if let Err(denied) = policy::can_manage(actor, token.facts()) {
        return refuse(denied.into(), htmx);
    }
    let form = TokenForm::for_edit(&signed_in.member, &token, &signed_in.csrf_token);
    Ok(render_form(&signed_in, form, htmx, StatusCode::OK))
}

pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    Path(id): Path<String>,
    WebForm(input): WebForm<TokenFormInput>,
) -> Result<Response, PageError> {
    let caller = caller(&signed_in, &ip);
    let current = match tokens::get(&state.store, caller, &id).await {
        Ok(token) => token,
        Err(e) => return refuse(e, htmx),
    };
    let mut errors = FieldErrors::default();
    let result = match parse_input(&input, Some(current.role), &mut errors) {
        Some(parsed) => {
            tokens::edit(
                &state.store,
                caller,
                &current.id,
                EditRequest {
                    name: input.name.clone(),
                    description: input.description.clone(),
                    role: parsed.role,
                    api_version: parsed.api_version,
                    expires_at: parsed.expires_at,
                },
                None,
            )
            .await
        }
        None => Err(TokenError::Invalid(Vec::new())),
    };
    let token = match result {
        Ok(token) => token,
        Err(TokenError::Invalid(list)) => {
            list.into_iter().for_each(|e| errors.add(e));
            let mut form = TokenForm::for_edit(&signed_in.member, &current, &signed_in.csrf_token);
            form.refill(&input);
            form.errors = errors;
            return Ok(render_form(
                &signed_in,
                form,
                htmx,
                StatusCode::UNPROCESSABLE_ENTITY,
            ));
        }
        Err(e) => return refuse(e, htmx),
    };
    let message = format!("Saved changes to {}", token.name);
    if htmx {
        let row = TokenRow::new(&token, caller, now_ms());
        return Ok(HtmxResponse::empty()
            .with(RowFragment {
                row: &row,
                csrf_token: &signed_in.csrf_token,
                oob: "true",
            })
            .announce(&message)
            .trigger_after_settle(
                "latchkey:dialog-done",
                serde_json::json!({ "focus": format!("#actions-{}", token.id) }),
            )
            .into_response());
    }
    flash::set_message(&signed_in.session, message).await?;
    Ok(Redirect::to(LIST_URL).into_response())
}
