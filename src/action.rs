//! How an operation of the token and member lifecycles (`tokens`,
//! `members`) fails, in one shape that the pages (`PageError`) and the API
//! (`ApiError`) each turn into their own answer.

use crate::domain::ValidationError;
use crate::domain::policy::Denied;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// Unknown, malformed, or not visible to the caller (indistinguishable on
    /// purpose: ids of other members' tokens are not confirmed).
    #[error("token not found")]
    NotFound,
    /// No current member has that id (or it is malformed).
    #[error("member not found")]
    MemberNotFound,
    #[error("{0}")]
    Forbidden(String),
    /// One message per offending field; nothing was stored.
    #[error("invalid input")]
    Invalid(Vec<ValidationError>),
    #[error("{0}")]
    Conflict(String),
    /// The database cannot be reached; nothing was changed.
    #[error("{0}")]
    Unavailable(String),
    /// The database refuses writes (disk full, read-only); nothing was
    /// changed.
    #[error("{0}")]
    Unwritable(String),
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl From<StoreError> for ActionError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ActionError::NotFound,
            StoreError::BulkRefused(why) => ActionError::Invalid(
                why.into_iter()
                    .map(|w| ValidationError::new("ids", w))
                    .collect(),
            ),
            StoreError::Conflict(message) => ActionError::Conflict(message),
            StoreError::Invalid(e) => ActionError::Invalid(vec![e]),
            StoreError::Unavailable(why) => ActionError::Unavailable(why),
            StoreError::Unwritable(why) => ActionError::Unwritable(why),
            other => ActionError::Internal(other.into()),
        }
    }
}

impl From<Denied> for ActionError {
    fn from(d: Denied) -> Self {
        ActionError::Forbidden(d.0)
    }
}

pub type ActionResult<T> = Result<T, ActionError>;
