//! Editing a token's name, description, role (personal tokens), API version
//! and expiry.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum_htmx::HxRequest;

use super::form::{FieldErrors, TokenForm, TokenFormInput, parse_input};
use super::{TokenId, row_changed};
use crate::AppState;
use crate::action::ActionError;
use crate::tokens::{self, EditRequest};
use crate::web::error::PageError;
use crate::web::form::WebForm;
use crate::web::format;
use crate::web::session::SignedIn;

pub async fn page(
    State(state): State<AppState>,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    TokenId { id, .. }: TokenId,
) -> Result<Response, PageError> {
    let token = tokens::get_manageable(&state.store, signed_in.caller(), &id).await?;
    let form = TokenForm::for_edit(
        signed_in.actor(),
        &token,
        &signed_in.csrf_token,
        state.store.token_policy().await?,
        state.clock.now_ms(),
    );
    Ok(form.respond(&signed_in, htmx, StatusCode::OK))
}

pub async fn submit(
    State(state): State<AppState>,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    TokenId { id, .. }: TokenId,
    WebForm(input): WebForm<TokenFormInput>,
) -> Result<Response, PageError> {
    let caller = signed_in.caller();
    let current = tokens::get_manageable(&state.store, caller, &id).await?;
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
        None => Err(ActionError::Invalid(Vec::new())),
    };
    let token = match result {
        Ok(token) => token,
        Err(ActionError::Invalid(list)) => {
            list.into_iter().for_each(|e| errors.add(e));
            return refused(&state, &signed_in, &current, &input, errors, htmx).await;
        }
        // A role above the member's own: said on the form, like create.
        Err(ActionError::Forbidden(message)) => {
            errors.form = Some(message);
            return refused(&state, &signed_in, &current, &input, errors, htmx).await;
        }
        // Someone saved first. The form keeps what this member typed and
        // now carries the current version, so saving again is a deliberate
        // choice to overwrite.
        Err(ActionError::Conflict(_)) => {
            errors.form = Some(
                "Someone else changed this token while you were editing. Check the values \
                 below and save again to keep yours."
                    .to_string(),
            );
            return refused(&state, &signed_in, &current, &input, errors, htmx).await;
        }
        Err(e) => return Err(e.into()),
    };
    let message = format!("Saved changes to {}", token.name);
    row_changed(&state, &signed_in, &token, htmx, message).await
}

/// The form again with what was typed and why it was refused; nothing
/// stored. It carries `current`'s version, so a save after a conflict is a
/// deliberate overwrite.
async fn refused(
    state: &AppState,
    signed_in: &SignedIn,
    current: &crate::store::Token,
    input: &TokenFormInput,
    errors: FieldErrors,
    htmx: bool,
) -> Result<Response, PageError> {
    let policy = state.store.token_policy().await?;
    Ok(TokenForm::for_edit(
        signed_in.actor(),
        current,
        &signed_in.csrf_token,
        policy,
        state.clock.now_ms(),
    )
    .resubmitted(input, errors)
    .respond(signed_in, htmx, StatusCode::UNPROCESSABLE_ENTITY))
}
