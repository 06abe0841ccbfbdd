//! The API's error body: `{"code": "...", "message": "..."}` with the right
//! status. Internal details are logged, never sent.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::action::ActionError;
use crate::domain::policy::Denied;
use crate::http::limits::{BodyRefusal, MAX_BODY_BYTES};
use crate::http::token_id::UnknownToken;
use crate::store::StoreError;

/// Every error the API returns.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable: `invalid_request`, `unauthorized`, `forbidden`,
    /// `not_found`, `method_not_allowed`, `conflict`, `request_too_large`,
    /// `unsupported_media_type`, `unprocessable_entity`, `rate_limited`,
    /// `internal_error`.
    pub code: &'static str,
    /// For people.
    pub message: String,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    retry_after: Option<Duration>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// The same answer for every cause (missing, malformed, unknown, deleted,
    /// expired or reset secret), so a caller learns nothing about which.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Invalid or missing access token",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not found")
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable_entity",
            message,
        )
    }

    pub fn unsupported_media_type(expected: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("Send the body as {expected}"),
        )
    }

    pub fn rate_limited(retry_after: Duration) -> Self {
        Self::rate_limited_because(retry_after, "Too many failed attempts")
    }

    /// 429 with `Retry-After`; `why` starts the message.
    pub fn rate_limited_because(retry_after: Duration, why: &str) -> Self {
        let secs = retry_after.as_secs().max(1);
        Self {
            retry_after: Some(Duration::from_secs(secs)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("{why}; try again in {secs} s"),
            )
        }
    }

    /// 503 with `Retry-After`: the database cannot be reached, or this
    /// instance cannot prove a secret is still live. Nothing was changed.
    pub fn unavailable(why: &str) -> Self {
        tracing::warn!(reason = %why, "answering 503: database unavailable");
        Self::try_again_shortly(
            "unavailable",
            "The service cannot reach its database right now; nothing was changed. Try again shortly"
                .to_string(),
        )
    }

    /// 503 with `Retry-After`: the database can be read but refuses writes
    /// (its disk is full, or it is read-only). Nothing was changed.
    pub fn unwritable(why: &str) -> Self {
        tracing::warn!(reason = %why, "answering 503: the database refuses writes");
        Self::try_again_shortly(
            "unavailable",
            "The service cannot save changes right now: its database is full or read-only, so \
             nothing was changed. Reading still works; try again later"
                .to_string(),
        )
    }

    /// 503 with `Retry-After`: too many requests at once, or this one took
    /// too long. Nothing was changed.
    pub fn busy(why: &str) -> Self {
        tracing::warn!(reason = %why, "answering 503: busy");
        Self::try_again_shortly(
            "busy",
            format!("The service is busy ({why}); nothing was changed. Try again shortly"),
        )
    }

    /// A 503 that tells the client when to try again.
    fn try_again_shortly(code: &'static str, message: String) -> Self {
        Self {
            retry_after: Some(Duration::from_secs(crate::web::error::RETRY_AFTER_SECS)),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
        }
    }

    pub fn internal(e: impl std::fmt::Debug) -> Self {
        tracing::error!(error = ?e, "API internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on the server; nothing was changed",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(why) => ApiError::unavailable(&why),
            StoreError::Unwritable(why) => ApiError::unwritable(&why),
            StoreError::Invalid(e) => ActionError::Invalid(vec![e]).into(),
            other => ApiError::internal(other),
        }
    }
}

impl From<Denied> for ApiError {
    fn from(d: Denied) -> Self {
        ApiError::forbidden(d.0)
    }
}

impl UnknownToken for ApiError {
    fn unknown_token() -> Self {
        ApiError::not_found()
    }
}

impl BodyRefusal for ApiError {
    fn too_large() -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            format!(
                "Request bodies are limited to {} KiB",
                MAX_BODY_BYTES / 1024
            ),
        )
    }

    fn unreadable() -> Self {
        ApiError::bad_request("The request body could not be read")
    }
}

impl From<ActionError> for ApiError {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::NotFound | ActionError::MemberNotFound => ApiError::not_found(),
            ActionError::Forbidden(message) => ApiError::forbidden(message),
            ActionError::Invalid(errors) => ApiError::bad_request(
                errors
                    .iter()
                    .map(|e| format!("{}: {}", api_field(e.field), e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            ActionError::Conflict(message) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", message)
            }
            ActionError::Unavailable(why) => ApiError::unavailable(&why),
            ActionError::Unwritable(why) => ApiError::unwritable(&why),
            ActionError::Internal(e) => ApiError::internal(e),
        }
    }
}

/// The JSON property a form field corresponds to.
pub fn api_field(field: &str) -> &str {
    match field {
        "api_version" => "defaultApiVersion",
        "expires" | "expires_at" => "expires",
        other => other,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (
            self.status,
            Json(ErrorBody {
                code: self.code,
                message: self.message,
            }),
        )
            .into_response();
        let headers = res.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"latchkey\""),
            );
        }
        if let Some(wait) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs()));
        }
        res
    }
}

pub async fn not_found() -> ApiError {
    ApiError::not_found()
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This endpoint does not accept that method",
    )
}
