//! One error type for pages: each variant becomes a full HTML page with the
//! right status. Internal details are logged, never shown.

use std::any::Any;
use std::time::Duration;

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::layout::Layout;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("{0}")]
    BadRequest(String),
    #[error("page not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Forbidden(String),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        PageError::Internal(e.into())
    }
}

impl From<tower_sessions::session::Error> for PageError {
    fn from(e: tower_sessions::session::Error) -> Self {
        PageError::Internal(anyhow::Error::new(e).context("session store"))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub heading: String,
    pub message: String,
    /// Where the "try again" link goes, when there is one.
    pub action: Option<(String, String)>,
}

impl ErrorPage {
    pub fn new(heading: &str, message: impl Into<String>) -> Self {
        Self {
            layout: Layout::public(heading, ""),
            heading: heading.to_string(),
            message: message.into(),
            action: None,
        }
    }

    pub fn with_action(mut self, href: impl Into<String>, label: impl Into<String>) -> Self {
        self.action = Some((href.into(), label.into()));
        self
    }

    /// Renders with `status`. A template that fails to render still yields a
    /// plain-text page with the same status.
    pub fn into_response_with(self, status: StatusCode) -> Response {
        match self.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "rendering the error page");
                (status, self.message).into_response()
            }
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let home = ("/".to_string(), "Go to Latchkey".to_string());
        let (status, page) = match &self {
            PageError::BadRequest(message) => (
                StatusCode::BAD_REQUEST,
                ErrorPage::new("Something in that request was wrong", message.clone()),
            ),
            PageError::NotFound => (
                StatusCode::NOT_FOUND,
                ErrorPage::new(
                    "Page not found",
                    "There is no page at this address. It may have moved, or the link may be wrong.",
                ),
            ),
            PageError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorPage::new(
                    "That action is not available here",
                    "This address does not accept that kind of request.",
                ),
            ),
            PageError::Forbidden(message) => (
                StatusCode::FORBIDDEN,
                ErrorPage::new("You do not have access", message.clone()),
            ),
            PageError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorPage::new(
                    "That was too much to send",
                    format!(
                        "Forms are limited to {} KiB. Shorten what you entered and try again.",
                        super::limits::MAX_BODY_BYTES / 1024
                    ),
                ),
            ),
            PageError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorPage::new(
                    "That form could not be read",
                    "The request was not sent as a form. Use the page's own form and try again.",
                ),
            ),
            PageError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorPage::new(
                        "Something went wrong on our side",
                        "Nothing was changed. Try again in a moment; if it keeps happening, the server log says why.",
                    ),
                )
            }
        };
        let page = if page.action.is_none() {
            page.with_action(home.0, home.1)
        } else {
            page
        };
        page.into_response_with(status)
    }
}

/// A "Too many requests" page with `Retry-After`.
pub fn too_many_requests(retry_after: Duration, message: String) -> Response {
    let mut res = ErrorPage::new("Too many requests", message)
        .into_response_with(StatusCode::TOO_MANY_REQUESTS);
    res.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(retry_after.as_secs().max(1)),
    );
    res
}

pub async fn not_found() -> PageError {
    PageError::NotFound
}

pub async fn method_not_allowed() -> PageError {
    PageError::MethodNotAllowed
}

/// Last line of defence: a panic becomes a page, and the log says where.
pub fn panic_response(payload: Box<dyn Any + Send + 'static>) -> Response {
    let detail = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    PageError::Internal(anyhow::anyhow!("handler panicked: {detail}")).into_response()
}
