//! Deleting the tokens chosen with the rows' checkboxes: "Delete selected
//! tokens" asks first ("Delete 3 tokens?", naming them), then deletes all of
//! them in one transaction, or none. Without JavaScript the checkboxes
//! belong to a GET form whose answer is the confirmation page.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_htmx::HxRequest;

use super::{action_frame, back_to_list};
use crate::AppState;
use crate::store::Token;
use crate::tokens::{self, MAX_BULK_DELETE};
use crate::web::error::PageError;
use crate::web::htmx::{HtmxResponse, dialog_or_page};
use crate::web::session::SignedIn;

/// The `ids` fields of a query string or form body, in order.
fn ids_of(encoded: &[u8]) -> Vec<String> {
    form_urlencoded::parse(encoded)
        .filter(|(key, _)| key == "ids")
        .map(|(_, value)| value.into_owned())
        .take(MAX_BULK_DELETE + 1)
        .collect()
}

#[derive(Template)]
#[template(path = "tokens/bulk_delete_form.html")]
struct BulkDeleteForm<'a> {
    tokens: &'a [Token],
    csrf_token: &'a str,
    in_dialog: bool,
}

pub async fn page(
    State(state): State<AppState>,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let ids = ids_of(query.unwrap_or_default().as_bytes());
    if ids.is_empty() {
        return Err(PageError::Invalid(
            "No tokens are selected. Tick the checkbox in the row of each token to delete, \
             then choose Delete selected tokens."
                .to_string(),
        ));
    }
    if ids.len() > MAX_BULK_DELETE {
        return Err(PageError::Invalid(format!(
            "At most {MAX_BULK_DELETE} tokens can be deleted at once."
        )));
    }
    // Each must be the viewer's to delete; the first refusal says why.
    let mut chosen = Vec::with_capacity(ids.len());
    for id in &ids {
        let token = tokens::get_manageable(&state.store, signed_in.caller(), id).await?;
        if !chosen.iter().any(|t: &Token| t.id == token.id) {
            chosen.push(token);
        }
    }
    chosen.sort_by_key(|t| t.name.to_lowercase());
    let heading = match chosen.len() {
        1 => "Delete 1 token?".to_string(),
        n => format!("Delete {n} tokens?"),
    };
    Ok(dialog_or_page(
        htmx,
        &signed_in,
        action_frame(&heading, true, None),
        StatusCode::OK,
        |in_dialog| BulkDeleteForm {
            tokens: &chosen,
            csrf_token: &signed_in.csrf_token,
            in_dialog,
        },
    ))
}

/// A deleted row, removed from the page out of band.
#[derive(Template)]
#[template(
    source = r#"<template><tr id="row-{{ id }}" hx-swap-oob="delete"></tr></template>"#,
    ext = "html"
)]
struct RowGone<'a> {
    id: &'a str,
}

pub async fn submit(
    State(state): State<AppState>,
    signed_in: SignedIn,
    HxRequest(htmx): HxRequest,
    body: Bytes,
) -> Result<Response, PageError> {
    let ids = ids_of(&body);
    let deleted = tokens::delete_many(&state.store, signed_in.caller(), &ids).await?;
    let message = match deleted.as_slice() {
        [one] => format!("Deleted {}", one.name),
        all => format!("Deleted {} tokens", all.len()),
    };
    if htmx {
        let mut res = HtmxResponse::empty();
        for token in &deleted {
            res = res.with(RowGone { id: &token.id });
        }
        return Ok(res
            .announce(&message)
            .trigger_after_settle(
                "latchkey:dialog-done",
                serde_json::json!({ "focus": "#tokens-caption" }),
            )
            .into_response());
    }
    back_to_list(&signed_in, message).await
}
