//! Suspending and resuming a token from its row's menu: posts at once, no
//! confirmation (either is undone by the other), and the row says so.

use axum::extract::State;
use axum::response::Response;
use axum_htmx::HxRequest;

use super::{TokenId, row_changed};
use crate::AppState;
use crate::tokens;
use crate::web::error::PageError;
use crate::web::session::SignedIn;

pub async fn suspend(
    state: State<AppState>,
    signed_in: SignedIn,
    htmx: HxRequest,
    id: TokenId,
) -> Result<Response, PageError> {
    respond(state, signed_in, htmx, id, true).await
}

pub async fn resume(
    state: State<AppState>,
    signed_in: SignedIn,
    htmx: HxRequest,
    id: TokenId,
) -> Result<Response, PageError> {
    respond(state, signed_in, htmx, id, false).await
}

async fn respond(
    State(state): State<AppState>,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    TokenId { id, .. }: TokenId,
    suspended: bool,
) -> Result<Response, PageError> {
    let caller = signed_in.caller();
    let token = if suspended {
        tokens::suspend(&state.store, caller, &id).await?
    } else {
        tokens::resume(&state.store, caller, &id).await?
    };
    let message = if suspended {
        format!(
            "Suspended {}: API calls with it return 401 Unauthorized until you resume it",
            token.name
        )
    } else {
        format!("Resumed {}: its secret works again", token.name)
    };
    row_changed(&state, &signed_in, &token, htmx, message).await
}
