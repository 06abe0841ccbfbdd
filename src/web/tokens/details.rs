//! A token's details page (`/settings/authorization/tokens/{id}`, the
//! name in its row links here): everything the row shows, the grace period
//! of a reset, where the token was used from lately, and its actions as
//! links and forms that work without JavaScript.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::TokenId;
use super::row::{Moment, TokenRow};
use crate::AppState;
use crate::clock;
use crate::store::UseSource;
use crate::tokens;
use crate::web::error::{PageError, render};
use crate::web::format::{self, Verbatim};
use crate::web::layout::{Layout, Section};
use crate::web::session::SignedIn;

/// One of the latest distinct sources of the token's uses.
pub struct RecentUse {
    pub when: Moment,
    pub client_ip: String,
    /// Empty when the client sent none.
    pub user_agent: String,
}

#[derive(Template)]
#[template(path = "tokens/details.html")]
struct DetailsPage {
    layout: Layout,
    row: TokenRow,
    api_version: i64,
    uses: Vec<RecentUse>,
}

pub async fn page(
    State(state): State<AppState>,
    signed_in: SignedIn,
    TokenId { id, .. }: TokenId,
) -> Result<Response, PageError> {
    let caller = signed_in.caller();
    let (token, uses) = tokens::recent_uses(&state.store, caller, &id).await?;
    let now = state.clock.now_ms();
    let uses = uses
        .into_iter()
        .map(|u: UseSource| RecentUse {
            when: (
                Verbatim::new(clock::format_rfc3339(u.at)),
                Verbatim::new(format::relative(u.at, now)),
                Verbatim::new(clock::format_utc(u.at)),
            ),
            client_ip: u.client_ip,
            user_agent: u.user_agent,
        })
        .collect();
    let page = DetailsPage {
        layout: signed_in.layout(token.name.clone(), Section::Authorization),
        row: TokenRow::new(&token, caller, now),
        api_version: token.api_version,
        uses,
    };
    Ok(render(StatusCode::OK, &page))
}
