//! The Token policy page (`/settings/policy`): the longest a new token may
//! live. Owners change it; Admins see it; everyone else gets 403 (they meet
//! the policy as a hint on the create form).
//!
//! Saving is a plain form post followed by a redirect and a flash message
//! without JavaScript; with htmx the same post answers with the
//! announcement alone (the select already shows what was saved, and focus
//! stays on Save).

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_htmx::HxRequest;
use serde::Deserialize;

use super::error::{PageError, render};
use super::flash;
use super::form::WebForm;
use super::htmx::HtmxResponse;
use super::layout::{Layout, Section};
use super::session::SignedIn;
use crate::AppState;
use crate::domain::org_policy::{self, LIFETIME_CHOICES, NO_LIMIT, TokenPolicy, lifetime_label};
use crate::domain::policy;
use crate::tokens;

pub const POLICY_URL: &str = "/settings/policy";

pub fn routes() -> Router<AppState> {
    Router::new().route(POLICY_URL, get(page).post(submit))
}

/// One choice of the "Maximum lifetime for new tokens" select.
pub struct LifetimeChoice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn choices(selected: TokenPolicy) -> Vec<LifetimeChoice> {
    std::iter::once(TokenPolicy::default())
        .chain(LIFETIME_CHOICES.map(TokenPolicy::with_max_days))
        .map(|choice| LifetimeChoice {
            value: choice
                .max_lifetime_days
                .map_or_else(|| NO_LIMIT.to_string(), |days| days.to_string()),
            label: match choice.max_lifetime_days {
                Some(days) => lifetime_label(days),
                None => "No limit".to_string(),
            },
            selected: choice == selected,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "policy.html")]
struct PolicyPage {
    layout: Layout,
    /// Admins and Owners see the policy.
    allowed: bool,
    /// Owners change it.
    can_change: bool,
    policy: TokenPolicy,
    choices: Vec<LifetimeChoice>,
    error: Option<String>,
}

impl PolicyPage {
    fn new(layout: Layout, can_change: bool, policy: TokenPolicy) -> Self {
        PolicyPage {
            layout,
            allowed: true,
            can_change,
            policy,
            choices: choices(policy),
            error: None,
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    signed_in: SignedIn,
) -> Result<Response, PageError> {
    let mut layout = signed_in.layout("Token policy", Section::TokenPolicy);
    let actor = signed_in.actor();
    if policy::can_view_token_policy(actor).is_err() {
        let page = PolicyPage {
            allowed: false,
            ..PolicyPage::new(layout, false, TokenPolicy::default())
        };
        return Ok(render(StatusCode::FORBIDDEN, &page));
    }
    let current = state.store.token_policy().await?;
    layout.flash = flash::take_message(&signed_in.session).await?;
    let can_change = policy::can_change_token_policy(actor).is_ok();
    Ok(render(
        StatusCode::OK,
        &PolicyPage::new(layout, can_change, current),
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct PolicyInput {
    #[serde(default)]
    max_lifetime: String,
}

pub async fn submit(
    State(state): State<AppState>,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    WebForm(input): WebForm<PolicyInput>,
) -> Result<Response, PageError> {
    // Refused before the value is even read: only Owners get this far.
    policy::can_change_token_policy(signed_in.actor())?;
    let wanted = match org_policy::parse_max_lifetime(&input.max_lifetime) {
        Ok(wanted) => wanted,
        // The select offers only valid choices: this came from elsewhere.
        Err(e) => {
            if htmx {
                return Ok(HtmxResponse::empty()
                    .status(StatusCode::UNPROCESSABLE_ENTITY)
                    .announce(&e.message)
                    .into_response());
            }
            let current = state.store.token_policy().await?;
            let layout = signed_in.layout("Token policy", Section::TokenPolicy);
            let page = PolicyPage {
                error: Some(e.message),
                ..PolicyPage::new(layout, true, current)
            };
            return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    let (before, after) = tokens::set_policy(&state.store, signed_in.caller(), wanted).await?;
    let message = if before == after {
        format!(
            "The maximum lifetime for new tokens is still {}",
            lowercase_first(&after.label())
        )
    } else {
        match after.max_lifetime_days {
            Some(days) => format!(
                "Saved: new tokens must now expire within {}",
                lifetime_label(days)
            ),
            None => "Saved: new tokens have no maximum lifetime now".to_string(),
        }
    };
    if htmx {
        return Ok(HtmxResponse::empty().announce(&message).into_response());
    }
    flash::set_message(&signed_in.session, message).await?;
    Ok(Redirect::to(POLICY_URL).into_response())
}

/// "No limit" → "no limit", for the middle of a sentence.
fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
