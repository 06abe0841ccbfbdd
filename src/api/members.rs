//! `/api/v2/members`: the organization's members, for Admin tokens. The
//! same operations as the Members page (`crate::members`). An API token acts
//! as Admin at most, so it cannot make, change or remove an Owner.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};

use super::auth::ApiActor;
use super::error::{ApiError, ErrorBody};
use super::model::{MemberJson, MemberList, role_from_patch};
use super::tokens::json_body;
use crate::AppState;
use crate::members;

/// The member routes' path parameter, for the OpenAPI document.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct MemberPath {
    /// Member id
    id: String,
}

#[utoipa::path(
    get, path = "/api/v2/members", tag = "members",
    responses(
        (status = 200, description = "Every member, by email", body = MemberList),
        (status = 403, description = "The token is not an Admin token", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiActor,
) -> Result<Json<MemberList>, ApiError> {
    let all = members::list(&state.store, caller.caller()).await?;
    Ok(Json(MemberList {
        total_count: all.len() as i64,
        items: all.iter().map(MemberJson::new).collect(),
    }))
}

/// The member as the list shows them (with counts), after a change.
async fn summary_json(state: &AppState, id: &str) -> Result<Json<MemberJson>, ApiError> {
    state
        .store
        .list_members()
        .await?
        .iter()
        .find(|s| s.member.id == id)
        .map(|s| Json(MemberJson::new(s)))
        .ok_or_else(ApiError::not_found)
}

#[utoipa::path(
    patch, path = "/api/v2/members/{id}", tag = "members",
    params(MemberPath),
    request_body(
        description = "A JSON Patch (RFC 6902) on /role",
        content(
            (Vec<super::model::PatchOperation> = "application/json"),
            (Vec<super::model::PatchOperation> = "application/json-patch+json"),
        )
    ),
    responses(
        (status = 200, description = "The member with the new role; their personal tokens follow at once", body = MemberJson),
        (status = 400, description = "Not a valid JSON Patch", body = ErrorBody),
        (status = 403, description = "The token may not do this (Owners are changed in the console)", body = ErrorBody),
        (status = 404, description = "No such member", body = ErrorBody),
        (status = 409, description = "The organization's only Owner", body = ErrorBody),
        (status = 422, description = "A valid patch that breaks a rule", body = ErrorBody),
    )
)]
pub async fn patch(
    State(state): State<AppState>,
    caller: ApiActor,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<MemberJson>, ApiError> {
    let member = members::get(&state.store, caller.caller(), &id).await?;
    let operations: json_patch::Patch = json_body(
        &headers,
        &body,
        &["application/json", "application/json-patch+json"],
    )?;
    let role = role_from_patch(member.role, &operations)?;
    members::change_role(&state.store, caller.caller(), &member.id, role).await?;
    summary_json(&state, &member.id).await
}

#[utoipa::path(
    delete, path = "/api/v2/members/{id}", tag = "members",
    params(MemberPath),
    responses(
        (status = 204, description = "Removed; their personal tokens answer 401 from now on, their sessions are over"),
        (status = 403, description = "The token may not do this (Owners are removed in the console)", body = ErrorBody),
        (status = 404, description = "No such member (also when already removed)", body = ErrorBody),
        (status = 409, description = "The organization's only Owner", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: ApiActor,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    members::remove(&state.store, caller.caller(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
