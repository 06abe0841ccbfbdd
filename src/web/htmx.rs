//! Responses for htmx requests: the main fragment plus out-of-band pieces
//! (the status message, rows) and the headers that steer htmx and app.js.
//!
//! Every token action targets `#dialog-content`; app.js opens the dialog when
//! content arrives there and manages focus from the events named here.

use askama::Template;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use crate::tokens::TokenError;

/// Replaces the *contents* of the persistent `role="status"` region, so
/// screen readers announce the change.
#[derive(Template)]
#[template(
    source = r#"<div id="status" hx-swap-oob="innerHTML">{{ message }}</div>"#,
    ext = "html"
)]
struct StatusOob<'a> {
    message: &'a str,
}

/// A message inside the dialog, with a way out: what htmx requests get when
/// an action is refused or its token is gone.
#[derive(Template)]
#[template(path = "partials/dialog_message.html")]
pub struct DialogMessage<'a> {
    pub title: &'a str,
    pub message: &'a str,
}

pub struct HtmxResponse {
    status: StatusCode,
    body: String,
    headers: Vec<(&'static str, String)>,
}

impl HtmxResponse {
    pub fn new(main: impl Template) -> Self {
        let body = render(&main);
        Self {
            status: StatusCode::OK,
            body,
            headers: Vec::new(),
        }
    }

    pub fn empty() -> Self {
        Self {
            status: StatusCode::OK,
            body: String::new(),
            headers: Vec::new(),
        }
    }

    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Adds an out-of-band fragment after the main content.
    pub fn with(mut self, fragment: impl Template) -> Self {
        self.body.push_str(&render(&fragment));
        self
    }

    pub fn announce(self, message: &str) -> Self {
        self.with(StatusOob { message })
    }

    /// Swaps the main content somewhere other than the request's target.
    pub fn retarget(mut self, selector: impl Into<String>, swap: &str) -> Self {
        self.headers.push(("hx-retarget", selector.into()));
        self.headers.push(("hx-reswap", swap.to_string()));
        self
    }

    /// Fires a client event once the response arrives (before swapping).
    pub fn trigger(mut self, name: &str, detail: serde_json::Value) -> Self {
        self.headers.push((
            "hx-trigger",
            serde_json::json!({ name: detail }).to_string(),
        ));
        self
    }

    /// Fires a client event after the swap has settled.
    pub fn trigger_after_settle(mut self, name: &str, detail: serde_json::Value) -> Self {
        self.headers.push((
            "hx-trigger-after-settle",
            serde_json::json!({ name: detail }).to_string(),
        ));
        self
    }
}

fn render(t: &impl Template) -> String {
    t.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "rendering an htmx fragment");
        String::new()
    })
}

impl IntoResponse for HtmxResponse {
    fn into_response(self) -> Response {
        let mut res = (self.status, Html(self.body)).into_response();
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                res.headers_mut()
                    .insert(HeaderName::from_static(name), value);
            }
        }
        res
    }
}

/// A message in the dialog, replacing whatever it showed.
pub fn message_dialog(status: StatusCode, title: &str, message: &str) -> Response {
    HtmxResponse::new(DialogMessage { title, message })
        .status(status)
        .retarget("#dialog-content", "innerHTML")
        .into_response()
}

/// A refused or failed action, shown inside the dialog.
pub fn error_dialog(e: TokenError) -> Response {
    let (status, title, message) = match &e {
        TokenError::NotFound => (
            StatusCode::NOT_FOUND,
            "Token not found",
            "This token no longer exists; someone may have deleted it. Reload the page to see the current list.".to_string(),
        ),
        TokenError::Forbidden(message) => (StatusCode::FORBIDDEN, "Not allowed", message.clone()),
        TokenError::Conflict(message) => (StatusCode::CONFLICT, "Changed elsewhere", message.clone()),
        TokenError::Invalid(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Check what you entered",
            errors
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        ),
        TokenError::Internal(inner) => {
            tracing::error!(error = ?inner, "token action failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Nothing was changed. Try again in a moment.".to_string(),
            )
        }
    };
    message_dialog(status, title, &message)
}
