//! Creating a token: the "Create an access token" form and its submission.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_htmx::HxRequest;

use super::form::{
    FieldErrors, TokenForm, TokenFormDialog, TokenFormInput, TokenFormPage, parse_input,
};
use super::{caller, page_error, secret_issued};
use crate::AppState;
use crate::domain::token::{TokenKind, validate_description, validate_name};
use crate::tokens::{self, CreateRequest, TokenError};
use crate::web::client_ip::ClientIp;
use crate::web::error::PageError;
use crate::web::form::WebForm;
use crate::web::htmx::{HtmxResponse, error_dialog};
use crate::web::layout::Layout;
use crate::web::session::SignedIn;

/// Shows the form: dialog content for htmx, a page otherwise.
pub async fn new_page(signed_in: SignedIn, HxRequest(htmx): HxRequest) -> Response {
    let form = TokenForm::for_create(&signed_in.member, &signed_in.csrf_token);
    if crate::domain::token::TokenRole::cap_for(signed_in.member.role).is_none() {
        let e = TokenError::Forbidden(
            "Your role is No access, so you cannot create tokens.".to_string(),
        );
        return if htmx {
            error_dialog(e)
        } else {
            page_error(e).into_response()
        };
    }
    render_form(&signed_in, form, htmx, StatusCode::OK)
}

/// The form as dialog content (htmx) or as a page, with `status`.
pub(super) fn render_form(
    signed_in: &SignedIn,
    form: TokenForm,
    htmx: bool,
    status: StatusCode,
) -> Response {
    if htmx {
        HtmxResponse::new(TokenFormDialog {
            form,
            in_dialog: true,
        })
        .status(status)
        .retarget("#dialog-content", "innerHTML")
        .into_response()
    } else {
        let page = TokenFormPage {
            layout: Layout::settings(form.heading, signed_in),
            form,
            in_dialog: false,
        };
        (status, page).into_response()
    }
}

pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    WebForm(input): WebForm<TokenFormInput>,
) -> Result<Response, PageError> {
    let caller = caller(&signed_in, &ip);
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
                caller,
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
            Err(TokenError::Invalid(Vec::new()))
        }
    };
    let issued = match result {
        Ok(issued) => issued,
        Err(TokenError::Invalid(list)) => {
            list.into_iter().for_each(|e| errors.add(e));
            return Ok(refused(&signed_in, &input, errors, htmx));
        }
        Err(TokenError::Forbidden(message)) => {
            errors.form = Some(message);
            return Ok(refused(&signed_in, &input, errors, htmx));
        }
        Err(e) if htmx => return Ok(error_dialog(e)),
        Err(e) => return Err(page_error(e)),
    };

    let message = format!("Created token {}. Copy its secret now.", issued.token.name);
    secret_issued(
        &state,
        &signed_in,
        caller,
        issued,
        htmx,
        "afterbegin:#tokens-body",
        message,
    )
    .await
}

/// The form again with what was typed and why it was refused; nothing stored.
fn refused(
    signed_in: &SignedIn,
    input: &TokenFormInput,
    errors: FieldErrors,
    htmx: bool,
) -> Response {
    let mut form = TokenForm::for_create(&signed_in.member, &signed_in.csrf_token);
    form.refill(input);
    form.errors = errors;
    render_form(signed_in, form, htmx, StatusCode::UNPROCESSABLE_ENTITY)
}
