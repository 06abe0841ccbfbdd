//! A form extractor whose rejections are pages, not plain text.

use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::PageError;

/// Like `axum::Form`, but a malformed, oversized or non-form body is answered
/// with a proper error page.
pub struct WebForm<T>(pub T);

impl<T, S> FromRequest<S> for WebForm<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(value)) => Ok(WebForm(value)),
            Err(rejection) => Err(form_rejection(rejection)),
        }
    }
}

fn form_rejection(rejection: FormRejection) -> PageError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => PageError::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => PageError::UnsupportedMediaType,
        _ => PageError::BadRequest(format!(
            "The form could not be read ({}). Reload the page and try again.",
            rejection.body_text()
        )),
    }
}
