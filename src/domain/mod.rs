//! Pure rules: no I/O, no framework types. Pages and the API both call these,
//! so each rule has exactly one implementation.

pub mod audit;
pub mod email;
pub mod hex;
pub mod ids;
pub mod listing;
pub mod org_policy;
pub mod password;
pub mod policy;
pub mod random;
pub mod redirect;
pub mod role;
pub mod secret;
pub mod token;

pub use role::MemberRole;

/// A rule was broken by user input. The message is safe to show to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    /// The form field or JSON property the message is about.
    pub field: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}
