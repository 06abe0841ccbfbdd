//! Resetting a token: a new secret, with the old one kept working for a
//! chosen grace period. The member confirms by typing the token's name.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum_htmx::HxRequest;
use serde::Deserialize;

use super::{TokenId, action_frame, secret_issued};
use crate::AppState;
use crate::domain::token::ResetGrace;
use crate::store::Token;
use crate::tokens;
use crate::web::error::PageError;
use crate::web::form::WebForm;
use crate::web::htmx::dialog_or_page;
use crate::web::session::SignedIn;

/// "Reset token?": the grace period, the name to type, and why a
/// submission was refused.
#[derive(Template)]
#[template(path = "tokens/reset_form.html")]
struct ResetForm<'a> {
    token: &'a Token,
    grace: ResetGrace,
    typed_name: String,
    error: Option<&'static str>,
    csrf_token: &'a str,
    in_dialog: bool,
}

impl ResetForm<'_> {
    fn graces(&self) -> Vec<(&'static str, &'static str, bool)> {
        ResetGrace::ALL
            .iter()
            .map(|g| (g.as_str(), g.label(), *g == self.grace))
            .collect()
    }
}

/// The confirmation, as first shown or (with `refused`) again with what was
/// typed and why it was not accepted.
fn respond(
    signed_in: &SignedIn,
    token: &Token,
    htmx: bool,
    refused: Option<(ResetGrace, String, &'static str)>,
) -> Response {
    let status = if refused.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let (grace, typed_name, error) = match refused {
        Some((grace, typed, why)) => (grace, typed, Some(why)),
        None => (ResetGrace::Immediately, String::new(), None),
    };
    dialog_or_page(
        htmx,
        signed_in,
        action_frame("Reset token?", false, Some(&token.id)),
        status,
        |in_dialog| ResetForm {
            token,
            grace,
            typed_name,
            error,
            csrf_token: &signed_in.csrf_token,
            in_dialog,
        },
    )
}

pub async fn page(
    State(state): State<AppState>,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    TokenId { id, .. }: TokenId,
) -> Result<Response, PageError> {
    let token = tokens::get_resettable(&state.store, signed_in.caller(), &id).await?;
    Ok(respond(&signed_in, &token, htmx, None))
}

#[derive(Debug, Default, Deserialize)]
pub struct ResetInput {
    #[serde(default)]
    grace: String,
    #[serde(default)]
    confirm_name: String,
}

pub async fn submit(
    State(state): State<AppState>,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    TokenId { id, .. }: TokenId,
    WebForm(input): WebForm<ResetInput>,
) -> Result<Response, PageError> {
    let token = tokens::get_resettable(&state.store, signed_in.caller(), &id).await?;
    let grace = ResetGrace::parse(input.grace.trim());
    let name_matches = input.confirm_name.trim() == token.name;
    let (Some(grace), true) = (grace, name_matches) else {
        let why = if grace.is_none() {
            "Choose how long the old secret keeps working"
        } else {
            "Type the token's name exactly as shown to confirm"
        };
        let typed = input.confirm_name.chars().take(300).collect();
        let shown_grace = grace.unwrap_or(ResetGrace::Immediately);
        return Ok(respond(
            &signed_in,
            &token,
            htmx,
            Some((shown_grace, typed, why)),
        ));
    };
    let old_valid_until = grace.old_secret_until(state.clock.now_ms());
    let issued =
        tokens::reset(&state.store, signed_in.caller(), &token.id, old_valid_until).await?;
    let name = &issued.token.name;
    let message = match grace {
        ResetGrace::Immediately => {
            format!("Reset {name}. The old secret has stopped working; copy the new one now.")
        }
        other => format!(
            "Reset {name}. The old secret keeps working for {}; copy the new one now.",
            other.label()
        ),
    };
    secret_issued(&state, &signed_in, issued, htmx, "true", message).await
}
