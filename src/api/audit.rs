//! `GET /api/v2/auditlog`: the audit log for Admin tokens, narrowed like
//! the page (by token, by the member who acted, by action), newest first.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;

use super::auth::ApiActor;
use super::error::{ApiError, ErrorBody};
use super::model::{AuditEntryJson, AuditList, Link, ListLinks};
use super::tokens::{DEFAULT_LIMIT, MAX_LIMIT, parse_int};
use crate::AppState;
use crate::domain::audit::AuditAction;
use crate::domain::{ids, policy};
use crate::store::AuditFilter;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only events about this token (a clone counts for its source too).
    token_id: Option<String>,
    /// Only events done by this member (signed in or through their tokens).
    member_id: Option<String>,
    /// Only this action: `token_created`, `member_removed`, …
    action: Option<String>,
    /// 1–1000, default 25.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// 0 or more, default 0.
    #[param(value_type = Option<i64>, minimum = 0)]
    offset: Option<String>,
}

fn id_param(name: &str, raw: Option<&str>) -> Result<Option<String>, ApiError> {
    match raw {
        None | Some("") => Ok(None),
        Some(id) if ids::is_valid_id(id) => Ok(Some(id.to_string())),
        Some(_) => Err(ApiError::bad_request(format!("{name} is not a valid id"))),
    }
}

#[utoipa::path(
    get, path = "/api/v2/auditlog", tag = "audit",
    params(AuditParams),
    responses(
        (status = 200, description = "Audit entries, newest first", body = AuditList),
        (status = 400, description = "Bad parameters", body = ErrorBody),
        (status = 403, description = "The token is not an Admin token", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiActor,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Json<AuditList>, ApiError> {
    if !policy::can_read_audit_log(caller.actor()) {
        return Err(ApiError::forbidden(
            "Reading the audit log needs an Admin token",
        ));
    }
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let token_id = id_param("tokenId", params.token_id.as_deref())?;
    let member_id = id_param("memberId", params.member_id.as_deref())?;
    let action = match params.action.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(AuditAction::parse(raw).ok_or_else(|| {
            ApiError::bad_request(format!("action {raw:?} is not one the audit log records"))
        })?),
    };
    let limit = parse_int(
        "limit",
        params.limit.as_deref(),
        DEFAULT_LIMIT,
        1,
        MAX_LIMIT,
    )?;
    let offset = parse_int(
        "offset",
        params.offset.as_deref(),
        0,
        0,
        i64::from(i32::MAX),
    )?;
    let filter = AuditFilter {
        token_id: token_id.as_deref(),
        actor_member_id: member_id.as_deref(),
        action,
    };
    let (events, total) = state
        .store
        .list_audit_events(&filter, limit, offset)
        .await?;
    let page_url = |offset: i64| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(id) = &token_id {
            query.append_pair("tokenId", id);
        }
        if let Some(id) = &member_id {
            query.append_pair("memberId", id);
        }
        if let Some(action) = action {
            query.append_pair("action", action.as_str());
        }
        query.append_pair("limit", &limit.to_string());
        query.append_pair("offset", &offset.to_string());
        format!("/api/v2/auditlog?{}", query.finish())
    };
    Ok(Json(AuditList {
        items: events.into_iter().map(AuditEntryJson::from).collect(),
        total_count: total,
        links: ListLinks {
            self_: Link::json(page_url(offset)),
            next: (offset + limit < total).then(|| Link::json(page_url(offset + limit))),
            prev: (offset > 0).then(|| Link::json(page_url((offset - limit).max(0)))),
        },
    }))
}
