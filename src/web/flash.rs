//! One-time messages carried across a redirect (post/redirect/get without
//! JavaScript). Messages live in the session; a new secret never does: it
//! waits in this process's memory, under a random key that the session
//! holds, so no secret is ever written to the database (or its WAL).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::clock::Clock;

use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use super::error::PageError;
use crate::domain::random;

const FLASH: &str = "flash";
const NEW_SECRET_KEY: &str = "new_secret_key";

/// How long a secret waits for the page that shows it.
const PENDING_FOR: Duration = Duration::from_secs(10 * 60);

/// A secret waiting to be shown once on the next page.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingSecret {
    pub token_id: String,
    pub token_name: String,
    pub secret: String,
}

impl std::fmt::Debug for PendingSecret {
    // Never print the secret, whoever logs this by accident.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSecret")
            .field("token_id", &self.token_id)
            .field("token_name", &self.token_name)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Secrets between the POST that issued them and the GET that shows them.
/// (With several instances behind a load balancer, that GET must reach the
/// same instance: sticky sessions.)
pub struct PendingSecrets {
    waiting: Mutex<HashMap<String, (PendingSecret, Instant)>>,
    clock: Clock,
}

impl std::fmt::Debug for PendingSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingSecrets")
    }
}

impl PendingSecrets {
    pub fn new(clock: Clock) -> Self {
        Self {
            waiting: Mutex::default(),
            clock,
        }
    }

    fn put(&self, pending: PendingSecret) -> String {
        let key = random::hex_token(16);
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.clock.instant();
        waiting.retain(|_, (_, at)| now.saturating_duration_since(*at) < PENDING_FOR);
        waiting.insert(key.clone(), (pending, now));
        key
    }

    fn take(&self, key: &str) -> Option<PendingSecret> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        waiting
            .remove(key)
            .filter(|(_, at)| self.clock.instant().saturating_duration_since(*at) < PENDING_FOR)
            .map(|(pending, _)| pending)
    }
}

pub async fn set_message(session: &Session, message: impl Into<String>) -> Result<(), PageError> {
    session.insert(FLASH, message.into()).await?;
    Ok(())
}

pub async fn set_secret(
    session: &Session,
    secrets: &PendingSecrets,
    pending: PendingSecret,
) -> Result<(), PageError> {
    session.insert(NEW_SECRET_KEY, secrets.put(pending)).await?;
    Ok(())
}

/// Takes (and removes) the message, if any. Only touches the session when
/// there is something to take.
pub async fn take_message(session: &Session) -> Result<Option<String>, PageError> {
    Ok(match session.get::<String>(FLASH).await? {
        Some(_) => session.remove::<String>(FLASH).await?,
        None => None,
    })
}

/// Takes (and removes) the message and the pending secret, if any.
pub async fn take(
    session: &Session,
    secrets: &PendingSecrets,
) -> Result<(Option<String>, Option<PendingSecret>), PageError> {
    let message = take_message(session).await?;
    let secret = match session.get::<String>(NEW_SECRET_KEY).await? {
        Some(_) => session
            .remove::<String>(NEW_SECRET_KEY)
            .await?
            .and_then(|key| secrets.take(&key)),
        None => None,
    };
    Ok((message, secret))
}
