//! Cloning a token from its row's menu: posts at once, no form.

use axum::extract::State;
use axum::response::Response;
use axum_htmx::HxRequest;

use super::{TokenId, secret_issued};
use crate::AppState;
use crate::tokens;
use crate::web::error::PageError;
use crate::web::session::SignedIn;

pub async fn submit(
    State(state): State<AppState>,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    TokenId { id, .. }: TokenId,
) -> Result<Response, PageError> {
    let issued = tokens::clone(&state.store, signed_in.caller(), &id).await?;
    let mut message = format!(
        "Cloned token as {}. Copy its secret now.",
        issued.token.name
    );
    // Only a token policy gives a clone an expiry: say so, since nobody
    // chose it.
    if let Some(expires) = issued.token.expires_at {
        message.push_str(&format!(
            " It expires {}, as your organization's token policy allows at most.",
            crate::clock::format_utc(expires)
        ));
    }
    let below_source = format!("afterend:#row-{id}");
    secret_issued(&state, &signed_in, issued, htmx, &below_source, message).await
}
