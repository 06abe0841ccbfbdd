//! Editing a token's name, description, role (personal tokens), API version
//! and expiry.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_htmx::HxRequest;

use super::create::render_form;
use super::form::{FieldErrors, TokenForm, TokenFormInput, parse_input};
use super::row::{RowFragment, TokenRow};
use super::{LIST_URL, TokenId, caller, refuse};
use crate::AppState;
use crate::clock::now_ms;
use crate::tokens::{self, EditRequest, TokenError};
use crate::web::client_ip::ClientIp;
use crate::web::error::PageError;
use crate::web::flash;
use crate::web::form::WebForm;
use crate::web::format;
use crate::web::htmx::HtmxResponse;
use crate::web::session::SignedIn;

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
    let form = TokenForm::for_edit(&signed_in.member, &token, &signed_in.csrf_token);
    Ok(render_form(&signed_in, form, htmx, StatusCode::OK))
}

pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    TokenId(id): TokenId,
    WebForm(input): WebForm<TokenFormInput>,
) -> Result<Response, PageError> {
    let caller = caller(&signed_in, &ip);
    let current = match tokens::get_manageable(&state.store, caller, &id).await {
        Ok(token) => token,
        Err(e) => return refuse(e, htmx),
    };
    // The form shows the expiry to the minute; sent back untouched, it keeps
    // its exact stored value rather than being rounded (or, if it has
    // passed, refused as "not in the future").
    let untouched_expiry = current
        .expires_at
        .is_some_and(|t| input.expires.trim() == format::datetime_local(t));
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
                    expires_at: if untouched_expiry {
                        current.expires_at
                    } else {
                        parsed.expires_at
                    },
                },
                input.version.trim().parse::<i64>().ok(),
            )
            .await
        }
        None => Err(TokenError::Invalid(Vec::new())),
    };
    let token = match result {
        Ok(token) => token,
        Err(e @ (TokenError::Invalid(_) | TokenError::Forbidden(_) | TokenError::Conflict(_))) => {
            match e {
                TokenError::Invalid(list) => list.into_iter().for_each(|e| errors.add(e)),
                // A role above the member's own: said on the form, like create.
                TokenError::Forbidden(message) => errors.form = Some(message),
                // Someone saved first. The form keeps what this member typed
                // and now carries the current version, so saving again is a
                // deliberate choice to overwrite.
                TokenError::Conflict(_) => {
                    errors.form = Some(
                        "Someone else changed this token while you were editing. Check the \
                         values below and save again to keep yours."
                            .to_string(),
                    )
                }
                _ => {}
            }
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
