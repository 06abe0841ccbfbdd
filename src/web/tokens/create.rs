//! Creating a token: the "Create an access token" form and its submission.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum_htmx::HxRequest;

use super::form::{FieldErrors, TokenForm, TokenFormInput, parse_input};
use super::secret_issued;
use crate::AppState;
use crate::action::ActionError;
use crate::domain::policy;
use crate::domain::token::{TokenKind, validate_description, validate_name};
use crate::tokens::{self, CreateRequest};
use crate::web::error::PageError;
use crate::web::form::WebForm;
use crate::web::session::SignedIn;

/// Shows the form: dialog content for htmx, a page otherwise.
pub async fn new_page(
    State(state): State<AppState>,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
) -> Result<Response, PageError> {
    policy::can_manage_tokens(signed_in.actor())?;
    let form = TokenForm::for_create(
        signed_in.actor(),
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
    WebForm(input): WebForm<TokenFormInput>,
) -> Result<Response, PageError> {
    let mut errors = FieldErrors::default();
    let kind = if input.service.is_some() {
        TokenKind::Service
    } else {
        TokenKind::Personal
    };
    let result = match parse_input(&input, None, &mut errors) {
        Some(parsed) => {
            tokens::create(
                &state.store,
                signed_in.caller(),
                CreateRequest {
                    name: input.name.clone(),
                    description: input.description.clone(),
                    role: parsed.role,
                    kind,
                    api_version: parsed.api_version,
                    expires_at: parsed.expires_at,
                },
            )
            .await
        }
        None => {
            // Report the text fields too, so every problem shows at once.
            let _ = validate_name(&input.name).map_err(|e| errors.add(e));
            let _ = validate_description(&input.description).map_err(|e| errors.add(e));
            Err(ActionError::Invalid(Vec::new()))
        }
    };
    let issued = match result {
        Ok(issued) => issued,
        Err(ActionError::Invalid(list)) => {
            list.into_iter().for_each(|e| errors.add(e));
            return refused(&state, &signed_in, &input, errors, htmx).await;
        }
        Err(ActionError::Forbidden(message)) => {
            errors.form = Some(message);
            return refused(&state, &signed_in, &input, errors, htmx).await;
        }
        Err(e) => return Err(e.into()),
    };

    let message = format!("Created token {}. Copy its secret now.", issued.token.name);
    secret_issued(
        &state,
        &signed_in,
        issued,
        htmx,
        "afterbegin:#tokens-body",
        message,
    )
    .await
}

/// The form again with what was typed and why it was refused; nothing stored.
async fn refused(
    state: &AppState,
    signed_in: &SignedIn,
    input: &TokenFormInput,
    errors: FieldErrors,
    htmx: bool,
) -> Result<Response, PageError> {
    let policy = state.store.token_policy().await?;
    Ok(TokenForm::for_create(
        signed_in.actor(),
        &signed_in.csrf_token,
        policy,
        state.clock.now_ms(),
    )
    .resubmitted(input, errors)
    .respond(signed_in, htmx, StatusCode::UNPROCESSABLE_ENTITY))
}
