//! Resetting a token: a new secret, with the old one kept working for a
//! chosen grace period. The member confirms by typing the token's name.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_htmx::HxRequest;
use serde::Deserialize;

use super::{TokenId, caller, refuse, secret_issued};
use crate::AppState;
use crate::clock::now_ms;
use crate::domain::token::ResetGrace;
use crate::store::Token;
use crate::tokens::{self};
use crate::web::client_ip::ClientIp;
use crate::web::error::PageError;
use crate::web::form::WebForm;
use crate::web::htmx::HtmxResponse;
use crate::web::layout::Layout;
use crate::web::session::SignedIn;

pub struct ResetForm {
    pub token_id: String,
    pub token_name: String,
    pub grace: ResetGrace,
    pub typed_name: String,
    pub error: Option<String>,
    pub csrf_token: String,
}

impl ResetForm {
    fn new(token: &Token, csrf_token: &str) -> Self {
        ResetForm {
            token_id: token.id.clone(),
            token_name: token.name.clone(),
            grace: ResetGrace::Immediately,
            typed_name: String::new(),
            error: None,
            csrf_token: csrf_token.to_string(),
        }
    }

    pub fn graces(&self) -> Vec<(&'static str, &'static str, bool)> {
        ResetGrace::ALL
            .iter()
            .map(|g| (g.as_str(), g.label(), *g == self.grace))
            .collect()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "tokens/reset_page.html")]
pub struct ResetPage {
    pub layout: Layout,
    pub form: ResetForm,
    pub in_dialog: bool,
}

#[derive(Template)]
#[template(path = "tokens/reset_dialog.html")]
pub struct ResetDialog {
    pub form: ResetForm,
    pub in_dialog: bool,
}

fn render(signed_in: &SignedIn, form: ResetForm, htmx: bool, status: StatusCode) -> Response {
    if htmx {
        HtmxResponse::new(ResetDialog {
            form,
            in_dialog: true,
        })
        .status(status)
        .retarget("#dialog-content", "innerHTML")
        .into_response()
    } else {
        let page = ResetPage {
            layout: Layout::settings("Reset token?", signed_in),
            form,
            in_dialog: false,
        };
        (status, page).into_response()
    }
}

pub async fn page(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    TokenId(id): TokenId,
) -> Result<Response, PageError> {
    match tokens::get_resettable(&state.store, caller(&signed_in, &ip), &id).await {
        Ok(token) => {
            let form = ResetForm::new(&token, &signed_in.csrf_token);
            Ok(render(&signed_in, form, htmx, StatusCode::OK))
        }
        Err(e) => refuse(e, htmx),
    }
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
    ClientIp(ip): ClientIp,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    TokenId(id): TokenId,
    WebForm(input): WebForm<ResetInput>,
) -> Result<Response, PageError> {
    let token = match tokens::get_resettable(&state.store, caller(&signed_in, &ip), &id).await {
        Ok(token) => token,
        Err(e) => return refuse(e, htmx),
    };
    let grace = ResetGrace::parse(input.grace.trim());
    let name_matches = input.confirm_name.trim() == token.name;
    let (Some(grace), true) = (grace, name_matches) else {
        let mut form = ResetForm::new(&token, &signed_in.csrf_token);
        form.grace = grace.unwrap_or(ResetGrace::Immediately);
        form.typed_name = input.confirm_name.chars().take(300).collect();
        form.error = Some(if grace.is_none() {
            "Choose how long the old secret keeps working".to_string()
        } else {
            "Type the token's name exactly as shown to confirm".to_string()
        });
        return Ok(render(
            &signed_in,
            form,
            htmx,
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    };
    let caller = caller(&signed_in, &ip);
    let old_valid_until = Some(now_ms() + grace.millis()).filter(|_| grace.millis() > 0);
    let issued = match tokens::reset(&state.store, caller, &token.id, old_valid_until).await {
        Ok(issued) => issued,
        Err(e) => return refuse(e, htmx),
    };
    let token = &issued.token;
    let message = match grace {
        ResetGrace::Immediately => format!(
            "Reset {}. The old secret has stopped working; copy the new one now.",
            token.name
        ),
        other => format!(
            "Reset {}. The old secret keeps working for {}; copy the new one now.",
            token.name,
            other.label()
        ),
    };
    secret_issued(&state, &signed_in, caller, issued, htmx, "true", message).await
}
