//! One error type for pages. A handler returns it with `?` whether or not
//! the request came from htmx: it renders as a full HTML page with the right
//! status, and `htmx::errors_as_dialogs` turns that into the dialog message
//! htmx swaps in. Internal details are logged, never shown.

use std::any::Any;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::layout::Layout;
use crate::action::ActionError;
use crate::domain::policy::Denied;
use crate::http::limits::{BodyRefusal, MAX_BODY_BYTES};
use crate::http::token_id::UnknownToken;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("{0}")]
    BadRequest(String),
    #[error("page not found")]
    NotFound,
    /// A token id that is unknown, malformed or not the viewer's to see.
    #[error("token not found")]
    TokenNotFound,
    /// A member id that is unknown, malformed or of a removed member.
    #[error("member not found")]
    MemberNotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Forbidden(String),
    /// Someone else changed the thing first.
    #[error("{0}")]
    Conflict(String),
    /// Input that breaks a rule, where no form can show it field by field.
    #[error("{0}")]
    Invalid(String),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// A state-changing request without this session's CSRF token; `back`
    /// is a page that can be reloaded to get a fresh one.
    #[error("stale or missing CSRF token")]
    StaleForm { back: String },
    /// Refused by the Sec-Fetch-Site/Origin check.
    #[error("cross-origin request")]
    CrossOrigin,
    /// The database cannot be reached (or this instance cannot prove it
    /// has every change): 503, try again shortly.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database can be read but refuses writes (disk full, read-only):
    /// 503, nothing was changed.
    #[error("database cannot store changes: {0}")]
    Unwritable(String),
    /// Too many requests at once, or this one took too long: 503, try
    /// again shortly.
    #[error("busy: {0}")]
    Busy(String),
    /// A request target or header set far beyond what any page needs.
    #[error("request too large")]
    HeadTooLarge(StatusCode),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(why) => PageError::Unavailable(why),
            StoreError::Unwritable(why) => PageError::Unwritable(why),
            StoreError::Invalid(e) => ActionError::Invalid(vec![e]).into(),
            other => PageError::Internal(other.into()),
        }
    }
}

impl From<tower_sessions::session::Error> for PageError {
    fn from(e: tower_sessions::session::Error) -> Self {
        let text = e.to_string();
        if text.contains(crate::store::sessions::UNWRITABLE) {
            PageError::Unwritable(text)
        } else if text.contains(crate::store::sessions::UNAVAILABLE) {
            PageError::Unavailable(text)
        } else {
            PageError::Internal(anyhow::Error::new(e).context("session store"))
        }
    }
}

impl From<Denied> for PageError {
    fn from(d: Denied) -> Self {
        PageError::Forbidden(d.0)
    }
}

impl From<ActionError> for PageError {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::NotFound => PageError::TokenNotFound,
            ActionError::MemberNotFound => PageError::MemberNotFound,
            ActionError::Forbidden(message) => PageError::Forbidden(message),
            ActionError::Invalid(errors) => PageError::Invalid(
                errors
                    .into_iter()
                    .map(|e| e.message)
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            ActionError::Conflict(message) => PageError::Conflict(message),
            ActionError::Unavailable(why) => PageError::Unavailable(why),
            ActionError::Unwritable(why) => PageError::Unwritable(why),
            ActionError::Internal(e) => PageError::Internal(e),
        }
    }
}

impl UnknownToken for PageError {
    fn unknown_token() -> Self {
        PageError::TokenNotFound
    }
}

impl BodyRefusal for PageError {
    fn too_large() -> Self {
        PageError::PayloadTooLarge
    }

    fn unreadable() -> Self {
        PageError::BadRequest("The request body could not be read.".into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub heading: String,
    pub message: String,
    /// Where the way-out link goes, and its text.
    pub action: (String, String),
}

/// What an error says, in a page and in a dialog, and with which status.
struct Described {
    status: StatusCode,
    heading: &'static str,
    message: String,
    /// The dialog's title, when it differs from the page's heading.
    dialog_title: Option<&'static str>,
    /// The dialog's text, when it differs from the page's.
    dialog_message: Option<&'static str>,
    action: (String, String),
}

/// What `htmx::errors_as_dialogs` needs to show an error in the dialog,
/// carried on the error page's response.
#[derive(Debug, Clone)]
pub struct ErrorDialog {
    pub title: String,
    pub message: String,
}

impl PageError {
    fn describe(&self) -> Described {
        let described = |status, heading, message: String| Described {
            status,
            heading,
            message,
            dialog_title: None,
            dialog_message: None,
            action: ("/".to_string(), "Go to Latchkey".to_string()),
        };
        let not_found = || {
            described(
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is no page at this address. It may have moved, or the link may be wrong."
                    .to_string(),
            )
        };
        match self {
            PageError::BadRequest(message) => described(
                StatusCode::BAD_REQUEST,
                "Something in that request was wrong",
                message.clone(),
            ),
            PageError::NotFound => not_found(),
            PageError::MemberNotFound => Described {
                dialog_title: Some("Member not found"),
                dialog_message: Some(
                    "This member is no longer in the organization; someone may have removed them. \
                     Reload the page to see the current list.",
                ),
                ..not_found()
            },
            PageError::TokenNotFound => Described {
                dialog_title: Some("Token not found"),
                dialog_message: Some(
                    "This token no longer exists; someone may have deleted it. Reload the page \
                     to see the current list.",
                ),
                ..not_found()
            },
            PageError::MethodNotAllowed => described(
                StatusCode::METHOD_NOT_ALLOWED,
                "That action is not available here",
                "This address does not accept that kind of request.".to_string(),
            ),
            PageError::Forbidden(message) => Described {
                dialog_title: Some("Not allowed"),
                ..described(
                    StatusCode::FORBIDDEN,
                    "You do not have access",
                    message.clone(),
                )
            },
            PageError::Conflict(message) => {
                described(StatusCode::CONFLICT, "Changed elsewhere", message.clone())
            }
            PageError::Invalid(message) => described(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Check what you entered",
                message.clone(),
            ),
            PageError::PayloadTooLarge => described(
                StatusCode::PAYLOAD_TOO_LARGE,
                "That was too much to send",
                format!(
                    "Forms are limited to {} KiB. Shorten what you entered and try again.",
                    MAX_BODY_BYTES / 1024
                ),
            ),
            PageError::UnsupportedMediaType => described(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "That form could not be read",
                "The request was not sent as a form. Use the page's own form and try again."
                    .to_string(),
            ),
            PageError::StaleForm { back } => Described {
                dialog_title: Some("This page has expired"),
                dialog_message: Some(
                    "For your security, this page stopped accepting changes after you signed in \
                     or out elsewhere. Nothing was changed. Reload the page and try again.",
                ),
                action: (back.clone(), "Reload the page".to_string()),
                ..described(
                    StatusCode::FORBIDDEN,
                    "This form has expired",
                    "For your security, forms stop working after you sign in or out elsewhere, \
                     or after a long pause. Nothing was changed. Reload the page and try again."
                        .to_string(),
                )
            },
            PageError::CrossOrigin => Described {
                action: ("/".to_string(), "Open Latchkey".to_string()),
                ..described(
                    StatusCode::FORBIDDEN,
                    "Request refused",
                    "This request came from another site, so it was refused and nothing was \
                     changed. Open Latchkey directly and try again."
                        .to_string(),
                )
            },
            PageError::Unavailable(why) => {
                tracing::warn!(reason = %why, "answering 503: database unavailable");
                Described {
                    dialog_title: Some("Latchkey is unavailable"),
                    action: ("/".to_string(), "Try again".to_string()),
                    ..described(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Latchkey cannot reach its database",
                        "Nothing was changed. This usually passes within seconds; try again \
                         in a moment."
                            .to_string(),
                    )
                }
            }
            PageError::Unwritable(why) => {
                tracing::warn!(reason = %why, "answering 503: the database refuses writes");
                Described {
                    dialog_title: Some("Changes cannot be saved"),
                    action: (
                        crate::domain::redirect::HOME.to_string(),
                        "Back to the tokens".to_string(),
                    ),
                    ..described(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Latchkey cannot save changes right now",
                        "Its database is full or read-only, so nothing was changed. Pages \
                         still show what is stored; try again once the server's operator has \
                         made room or write access."
                            .to_string(),
                    )
                }
            }
            PageError::Busy(why) => {
                tracing::warn!(reason = %why, "answering 503: busy");
                Described {
                    dialog_title: Some("Latchkey is busy"),
                    action: ("/".to_string(), "Try again".to_string()),
                    ..described(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Latchkey is busy",
                        format!(
                            "It could not take this request ({why}), so nothing was changed. \
                             Try again in a moment."
                        ),
                    )
                }
            }
            PageError::HeadTooLarge(status) => described(
                *status,
                "That request was too large",
                "The address or the request's headers were far longer than any page needs. \
                 Open Latchkey from its own links and try again."
                    .to_string(),
            ),
            PageError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                Described {
                    dialog_title: Some("Something went wrong"),
                    dialog_message: Some("Nothing was changed. Try again in a moment."),
                    ..described(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Something went wrong on our side",
                        "Nothing was changed. Try again in a moment; if it keeps happening, the \
                         server log says why."
                            .to_string(),
                    )
                }
            }
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let d = self.describe();
        let dialog = ErrorDialog {
            title: d.dialog_title.unwrap_or(d.heading).to_string(),
            message: d
                .dialog_message
                .map(str::to_string)
                .unwrap_or_else(|| d.message.clone()),
        };
        let page = ErrorPage {
            layout: Layout::public(d.heading, ""),
            heading: d.heading.to_string(),
            message: d.message,
            action: d.action,
        };
        let mut res = match page.render() {
            Ok(html) => (d.status, Html(html)).into_response(),
            Err(e) => {
                // Still the right status, and still words, never an empty 200.
                tracing::error!(error = %e, "rendering the error page");
                (d.status, page.message).into_response()
            }
        };
        if d.status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(RETRY_AFTER_SECS),
            );
        }
        res.extensions_mut().insert(dialog);
        res
    }
}

/// What a 503 tells clients to wait before trying again.
pub const RETRY_AFTER_SECS: u64 = 2;

/// A page with `status`. A template that fails to render becomes the 500
/// error page, never an empty or bare answer.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    render_sized(status, page, 0)
}

/// `render`, into a buffer of at least `size_hint` bytes from the start
/// (a long page would otherwise be copied each time the buffer grows).
pub fn render_sized<T: Template>(status: StatusCode, page: &T, size_hint: usize) -> Response {
    let mut html = String::with_capacity(size_hint.max(T::SIZE_HINT));
    match page.render_into(&mut html) {
        Ok(()) => (status, Html(html)).into_response(),
        Err(e) => {
            PageError::Internal(anyhow::Error::new(e).context("rendering a page")).into_response()
        }
    }
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
