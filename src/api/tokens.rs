//! `/api/v2` handlers: each one authenticates, checks the role the token acts
//! with, and calls the same operations as the pages (`crate::tokens`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;

use super::auth::{ApiActor, ApiCaller};
use super::error::{ApiError, ErrorBody};
use super::model::{
    CallerIdentity, CreateTokenBody, Link, ListLinks, TokenJson, TokenList, edit_from_patch,
};
use crate::AppState;
use crate::action::ActionError;
use crate::domain::listing::{EXPIRING_DAYS, Sort, UNUSED_DAYS};
use crate::domain::policy;
use crate::domain::token::{DEFAULT_API_VERSION, TokenKind, TokenRole, validate_old_secret_until};
use crate::http::compression::{HoldsSecret, holds_secret};
use crate::tokens::{self, CreateRequest, ListRequest};

/// The `{id}` of a token route, refused with the API's 404.
type TokenId = crate::http::TokenId<ApiError>;

/// A token answered with its new secret: shown only now, and sent
/// uncompressed (see `http::compression`).
type WithSecret = (StatusCode, axum::Extension<HoldsSecret>, Json<TokenJson>);

fn with_secret(state: &AppState, status: StatusCode, issued: tokens::Issued) -> WithSecret {
    let now = state.clock.now_ms();
    (
        status,
        holds_secret(),
        Json(TokenJson::new(&issued.token, Some(issued.secret), now)),
    )
}

/// A token as the API shows it now.
fn token_json(state: &AppState, token: &crate::store::Token) -> Json<TokenJson> {
    Json(TokenJson::new(token, None, state.clock.now_ms()))
}

/// The token routes' path parameter, for the OpenAPI document.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct TokenPath {
    /// Token id
    id: String,
}

pub const DEFAULT_LIMIT: i64 = 25;
pub const MAX_LIMIT: i64 = 1000;

/// Parses a JSON body, insisting on a JSON content type.
pub(super) fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &Bytes,
    accepted: &[&str],
) -> Result<T, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if !accepted.contains(&content_type.as_str()) {
        return Err(ApiError::unsupported_media_type(&accepted.join(" or ")));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("The request body is not valid: {e}")))
}

#[utoipa::path(
    get, path = "/api/v2/caller-identity", tag = "tokens",
    responses(
        (status = 200, description = "The calling token", body = CallerIdentity),
    )
)]
pub async fn caller_identity(caller: ApiCaller) -> Json<CallerIdentity> {
    Json(CallerIdentity {
        token_id: caller.token.id,
        token_name: caller.token.name,
        member_id: caller.token.member_id,
        service_token: caller.token.kind == TokenKind::Service,
        role: caller.role.into(),
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Admins: all members' tokens, not only their own and service tokens.
    #[param(value_type = Option<bool>)]
    show_all: Option<String>,
    /// 1–1000, default 25.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// 0 or more, default 0.
    #[param(value_type = Option<i64>, minimum = 0)]
    offset: Option<String>,
    /// `name` (default), `created`, `lastUsed` or `expires`; a leading `-`
    /// sorts descending. Never used counts as oldest, never expiring as
    /// latest.
    #[param(value_type = Option<String>, pattern = "^-?(name|created|lastUsed|expires)$")]
    sort: Option<String>,
    /// Only tokens not used in the last 30 or 90 days (never used ones
    /// count once they are that old).
    #[param(value_type = Option<i64>)]
    unused_days: Option<String>,
    /// 7: only tokens expiring within the next 7 days.
    #[param(value_type = Option<i64>)]
    expiring_days: Option<String>,
}

fn parse_bool(name: &str, raw: Option<&str>) -> Result<bool, ApiError> {
    match raw {
        None | Some("") | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(ApiError::bad_request(format!(
            "{name} must be true or false"
        ))),
    }
}

pub(super) fn parse_int(
    name: &str,
    raw: Option<&str>,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, ApiError> {
    match raw {
        None => Ok(default),
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|v| (min..=max).contains(v))
            .ok_or_else(|| {
                ApiError::bad_request(format!("{name} must be a whole number from {min} to {max}"))
            }),
    }
}

#[utoipa::path(
    get, path = "/api/v2/tokens", tag = "tokens",
    params(ListParams),
    responses(
        (status = 200, description = "Tokens the caller can see, by name", body = TokenList),
        (status = 400, description = "Bad parameters", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiActor,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<TokenList>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let show_all = parse_bool("showAll", params.show_all.as_deref())?;
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
    let sort = match params.sort.as_deref() {
        None | Some("") => Sort::default(),
        Some(raw) => Sort::parse(raw).ok_or_else(|| {
            ApiError::bad_request(
                "sort must be name, created, lastUsed or expires, with a leading - for descending",
            )
        })?,
    };
    let days = |name: &str, raw: Option<&str>, allowed: &[i64]| -> Result<Option<i64>, ApiError> {
        match raw {
            None | Some("") => Ok(None),
            Some(raw) => raw
                .parse::<i64>()
                .ok()
                .filter(|d| allowed.contains(d))
                .map(Some)
                .ok_or_else(|| {
                    let allowed: Vec<String> = allowed.iter().map(i64::to_string).collect();
                    ApiError::bad_request(format!("{name} must be {}", allowed.join(" or ")))
                }),
        }
    };
    let unused_days = days("unusedDays", params.unused_days.as_deref(), &UNUSED_DAYS)?;
    let expiring_days = days(
        "expiringDays",
        params.expiring_days.as_deref(),
        &[EXPIRING_DAYS],
    )?;
    let (tokens, total) = tokens::list(
        &state.store,
        caller.caller(),
        &ListRequest {
            all_members: show_all,
            sort,
            unused_days,
            expiring_days,
            limit,
            offset,
            ..ListRequest::default()
        },
    )
    .await?;
    let page_url = |offset: i64| {
        let mut url = format!("/api/v2/tokens?limit={limit}&offset={offset}");
        if show_all {
            url.push_str("&showAll=true");
        }
        if !sort.is_default() {
            url.push_str(&format!("&sort={}", sort.as_param()));
        }
        if let Some(d) = unused_days {
            url.push_str(&format!("&unusedDays={d}"));
        }
        if let Some(d) = expiring_days {
            url.push_str(&format!("&expiringDays={d}"));
        }
        url
    };
    Ok(Json(TokenList {
        items: {
            let now = state.clock.now_ms();
            tokens
                .iter()
                .map(|t| TokenJson::new(t, None, now))
                .collect()
        },
        total_count: total,
        links: ListLinks {
            self_: Link::json(page_url(offset)),
            next: (offset + limit < total).then(|| Link::json(page_url(offset + limit))),
            prev: (offset > 0).then(|| Link::json(page_url((offset - limit).max(0)))),
        },
    }))
}

#[utoipa::path(
    post, path = "/api/v2/tokens", tag = "tokens",
    request_body = CreateTokenBody,
    responses(
        (status = 201, description = "Created; `token` holds the full secret, shown only now", body = TokenJson),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 403, description = "The token may not do this", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: ApiActor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<WithSecret, ApiError> {
    policy::can_manage_tokens(caller.actor())?;
    let body: CreateTokenBody = json_body(&headers, &body, &["application/json"])?;
    let service = body.service_token.unwrap_or(false);
    let issued = tokens::create(
        &state.store,
        caller.caller(),
        CreateRequest {
            name: body.name,
            description: body.description.unwrap_or_default(),
            role: body.role.map(TokenRole::from).unwrap_or(TokenRole::Reader),
            kind: if service {
                TokenKind::Service
            } else {
                TokenKind::Personal
            },
            api_version: body.default_api_version.unwrap_or(DEFAULT_API_VERSION),
            expires_at: body.expires,
        },
    )
    .await?;
    Ok(with_secret(&state, StatusCode::CREATED, issued))
}

#[utoipa::path(
    get, path = "/api/v2/tokens/{id}", tag = "tokens",
    params(TokenPath),
    responses(
        (status = 200, description = "The token; `token` holds its last four characters", body = TokenJson),
        (status = 404, description = "No such token, or not visible to the caller", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: ApiActor,
    TokenId { id, .. }: TokenId,
) -> Result<Json<TokenJson>, ApiError> {
    let token = tokens::get(&state.store, caller.caller(), &id).await?;
    Ok(token_json(&state, &token))
}

#[utoipa::path(
    patch, path = "/api/v2/tokens/{id}", tag = "tokens",
    params(TokenPath),
    request_body(
        description = "A JSON Patch (RFC 6902) on name, description, role, defaultApiVersion, expires",
        content(
            (Vec<super::model::PatchOperation> = "application/json"),
            (Vec<super::model::PatchOperation> = "application/json-patch+json"),
        )
    ),
    responses(
        (status = 200, description = "The changed token", body = TokenJson),
        (status = 400, description = "Not a valid JSON Patch", body = ErrorBody),
        (status = 403, description = "The token may not do this", body = ErrorBody),
        (status = 404, description = "No such token", body = ErrorBody),
        (status = 409, description = "Changed by someone else meanwhile", body = ErrorBody),
        (status = 422, description = "A valid patch that breaks a rule", body = ErrorBody),
    )
)]
pub async fn patch(
    State(state): State<AppState>,
    caller: ApiActor,
    TokenId { id, .. }: TokenId,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<TokenJson>, ApiError> {
    policy::can_manage_tokens(caller.actor())?;
    let operations: json_patch::Patch = json_body(
        &headers,
        &body,
        &["application/json", "application/json-patch+json"],
    )?;
    let token = tokens::get(&state.store, caller.caller(), &id).await?;
    let edit = edit_from_patch(&token, &operations)?;
    let updated = tokens::edit(
        &state.store,
        caller.caller(),
        &token.id,
        edit,
        Some(token.version),
    )
    .await
    .map_err(|e| match e {
        // The patch was well formed but the result breaks a rule.
        ActionError::Invalid(_) | ActionError::Forbidden(_) => {
            ApiError::unprocessable(ApiError::from(e).message)
        }
        other => other.into(),
    })?;
    Ok(token_json(&state, &updated))
}

#[utoipa::path(
    delete, path = "/api/v2/tokens/{id}", tag = "tokens",
    params(TokenPath),
    responses(
        (status = 204, description = "Deleted; its secret answers 401 from now on"),
        (status = 403, description = "The token may not do this", body = ErrorBody),
        (status = 404, description = "No such token (also when already deleted)", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: ApiActor,
    TokenId { id, .. }: TokenId,
) -> Result<StatusCode, ApiError> {
    policy::can_manage_tokens(caller.actor())?;
    tokens::delete(&state.store, caller.caller(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResetParams {
    /// Unix milliseconds until which the old secret keeps working; omitted or
    /// in the past, it stops at once. At most one year ahead.
    #[param(value_type = Option<i64>)]
    expiry: Option<String>,
}

#[utoipa::path(
    post, path = "/api/v2/tokens/{id}/reset", tag = "tokens",
    params(TokenPath, ResetParams),
    responses(
        (status = 200, description = "Reset; `token` holds the new secret, shown only now", body = TokenJson),
        (status = 400, description = "Bad expiry", body = ErrorBody),
        (status = 403, description = "The token may not do this", body = ErrorBody),
        (status = 404, description = "No such token", body = ErrorBody),
    )
)]
pub async fn reset(
    State(state): State<AppState>,
    caller: ApiActor,
    TokenId { id, .. }: TokenId,
    params: Result<Query<ResetParams>, QueryRejection>,
) -> Result<WithSecret, ApiError> {
    policy::can_manage_tokens(caller.actor())?;
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let expiry = match params.expiry.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(
            raw.parse::<i64>()
                .map_err(|_| ApiError::bad_request("expiry must be Unix milliseconds"))?,
        ),
    };
    // A bad expiry is a bad request whatever the token: checked before it
    // is looked up (the operation checks again, for every caller).
    validate_old_secret_until(expiry, state.clock.now_ms())
        .map_err(|e| ApiError::from(ActionError::Invalid(vec![e])))?;
    let issued = tokens::reset(&state.store, caller.caller(), &id, expiry).await?;
    Ok(with_secret(&state, StatusCode::OK, issued))
}

#[utoipa::path(
    post, path = "/api/v2/tokens/bulk-delete", tag = "tokens",
    request_body = super::model::BulkDeleteBody,
    responses(
        (status = 200, description = "All of them deleted, in one transaction, each audited", body = super::model::BulkDeleted),
        (status = 400, description = "An id is malformed or unknown, or one of them may not be deleted by this token: nothing was deleted", body = ErrorBody),
        (status = 403, description = "The token may not manage tokens", body = ErrorBody),
    )
)]
pub async fn bulk_delete(
    State(state): State<AppState>,
    caller: ApiActor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<super::model::BulkDeleted>, ApiError> {
    policy::can_manage_tokens(caller.actor())?;
    let body: super::model::BulkDeleteBody = json_body(&headers, &body, &["application/json"])?;
    let deleted = tokens::delete_many(&state.store, caller.caller(), &body.ids).await?;
    Ok(Json(super::model::BulkDeleted {
        deleted: deleted.into_iter().map(|t| t.id).collect(),
    }))
}

#[utoipa::path(
    post, path = "/api/v2/tokens/{id}/suspend", tag = "tokens",
    params(TokenPath),
    responses(
        (status = 200, description = "Suspended (or already so): every secret of it answers 401 until it is resumed", body = TokenJson),
        (status = 403, description = "The token may not do this", body = ErrorBody),
        (status = 404, description = "No such token", body = ErrorBody),
    )
)]
pub async fn suspend(
    State(state): State<AppState>,
    caller: ApiActor,
    TokenId { id, .. }: TokenId,
) -> Result<Json<TokenJson>, ApiError> {
    policy::can_manage_tokens(caller.actor())?;
    let token = tokens::suspend(&state.store, caller.caller(), &id).await?;
    Ok(token_json(&state, &token))
}

#[utoipa::path(
    post, path = "/api/v2/tokens/{id}/resume", tag = "tokens",
    params(TokenPath),
    responses(
        (status = 200, description = "Resumed (or not suspended): its secrets work again, unchanged", body = TokenJson),
        (status = 403, description = "The token may not do this", body = ErrorBody),
        (status = 404, description = "No such token", body = ErrorBody),
    )
)]
pub async fn resume(
    State(state): State<AppState>,
    caller: ApiActor,
    TokenId { id, .. }: TokenId,
) -> Result<Json<TokenJson>, ApiError> {
    policy::can_manage_tokens(caller.actor())?;
    let token = tokens::resume(&state.store, caller.caller(), &id).await?;
    Ok(token_json(&state, &token))
}

#[utoipa::path(
    post, path = "/api/v2/tokens/{id}/end-grace", tag = "tokens",
    params(TokenPath),
    responses(
        (status = 200, description = "The secret replaced by the latest reset (and any older one still in its grace period) answers 401 from now on; the current secret is untouched", body = TokenJson),
        (status = 403, description = "The token may not do this", body = ErrorBody),
        (status = 404, description = "No such token", body = ErrorBody),
        (status = 409, description = "No grace period runs: no old secret still works", body = ErrorBody),
    )
)]
pub async fn end_grace(
    State(state): State<AppState>,
    caller: ApiActor,
    TokenId { id, .. }: TokenId,
) -> Result<Json<TokenJson>, ApiError> {
    policy::can_manage_tokens(caller.actor())?;
    // Ends whatever grace period runs now: an API call acts at once, with
    // nothing shown to it first that could have gone stale.
    let token = tokens::end_grace(&state.store, caller.caller(), &id, None).await?;
    Ok(token_json(&state, &token))
}

#[utoipa::path(
    get, path = "/api/v2/tokens/{id}/uses", tag = "tokens",
    params(TokenPath),
    responses(
        (status = 200, description = "Where the token was used from lately: at most five distinct client addresses and User-Agents, latest first. Uses are written in batches, so the latest few seconds may be missing.", body = super::model::TokenUses),
        (status = 404, description = "No such token, or not visible to the caller", body = ErrorBody),
    )
)]
pub async fn uses(
    State(state): State<AppState>,
    caller: ApiActor,
    TokenId { id, .. }: TokenId,
) -> Result<Json<super::model::TokenUses>, ApiError> {
    let (_, uses) = tokens::recent_uses(&state.store, caller.caller(), &id).await?;
    Ok(Json(super::model::TokenUses {
        items: uses
            .into_iter()
            .map(|u| super::model::TokenUseJson {
                client_ip: u.client_ip,
                user_agent: u.user_agent,
                last_used: u.at,
            })
            .collect(),
    }))
}

#[utoipa::path(
    post, path = "/api/v2/tokens/{id}/clone", tag = "tokens",
    params(TokenPath),
    responses(
        (status = 201, description = "The clone; `token` holds its secret, shown only now", body = TokenJson),
        (status = 403, description = "The token may not do this", body = ErrorBody),
        (status = 404, description = "No such token", body = ErrorBody),
    )
)]
pub async fn clone(
    State(state): State<AppState>,
    caller: ApiActor,
    TokenId { id, .. }: TokenId,
) -> Result<WithSecret, ApiError> {
    policy::can_manage_tokens(caller.actor())?;
    let issued = tokens::clone(&state.store, caller.caller(), &id).await?;
    Ok(with_secret(&state, StatusCode::CREATED, issued))
}
