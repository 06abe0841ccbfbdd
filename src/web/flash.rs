//! One-time messages carried across a redirect (post/redirect/get without
//! JavaScript), kept in the server-side session.

use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use super::error::PageError;

const FLASH: &str = "flash";
const NEW_SECRET: &str = "new_secret";

/// A secret waiting to be shown once on the next page. It lives in the
/// session store only between the POST and the GET that follows, and is
/// removed as it is read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingSecret {
    pub token_id: String,
    pub token_name: String,
    pub secret: String,
}

pub async fn set_message(session: &Session, message: impl Into<String>) -> Result<(), PageError> {
    session.insert(FLASH, message.into()).await?;
    Ok(())
}

pub async fn set_secret(session: &Session, pending: PendingSecret) -> Result<(), PageError> {
    session.insert(NEW_SECRET, pending).await?;
    Ok(())
}

/// Takes (and removes) the message and the pending secret, if any. Only
/// touches the session when there is something to take.
pub async fn take(session: &Session) -> Result<(Option<String>, Option<PendingSecret>), PageError> {
    let message = match session.get::<String>(FLASH).await? {
        Some(_) => session.remove::<String>(FLASH).await?,
        None => None,
    };
    let secret = match session.get::<PendingSecret>(NEW_SECRET).await? {
        Some(_) => session.remove::<PendingSecret>(NEW_SECRET).await?,
        None => None,
    };
    Ok((message, secret))
}
