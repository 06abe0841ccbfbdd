//! `/api/v2` handlers: each one authenticates, checks the role the token acts
//! with, and calls the same operations as the pages (`crate::tokens`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::ApiCaller;
use super::error::{ApiError, ErrorBody};
use super::model::{CallerIdentity, CreateTokenBody, Link, ListLinks, TokenJson, TokenList};
use crate::AppState;
use crate::clock::now_ms;
use crate::domain::token::{DEFAULT_API_VERSION, TokenKind, TokenRole};
use crate::store::Member;
use crate::tokens::{self, Caller, CreateRequest, EditRequest, ListRequest};

/// The `{id}` of a token route; anything unreadable there (even bytes that
/// are not UTF-8) is an unknown token, 404.
pub struct ApiTokenId(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ApiTokenId {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| ApiTokenId(id))
            .map_err(|_| ApiError::not_found())
    }
}

pub const DEFAULT_LIMIT: i64 = 25;
pub const MAX_LIMIT: i64 = 1000;

/// Who the token acts as. A personal token acts as its member, with the
/// role it may use now. A service token acts for the organization: as a
/// stand-in whose id matches no member (so no member's personal tokens count
/// as its own), with its own role; what it creates is recorded against the
/// member who created the service token.
async fn acting_member(state: &AppState, caller: &ApiCaller) -> Result<Member, ApiError> {
    if caller.token.kind == TokenKind::Service {
        return Ok(Member {
            id: format!("service-token:{}", caller.token.id),
            email: format!("service token {}", caller.token.name),
            role: caller.role.as_member_role(),
            created_at: 0,
        });
    }
    let member = state
        .store
        .find_member(&caller.token.member_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(ApiError::unauthorized)?;
    Ok(Member {
        role: caller.role.as_member_role(),
        ..member
    })
}

fn ops_caller<'a>(member: &'a Member, caller: &'a ApiCaller) -> Caller<'a> {
    let service = caller.token.kind == TokenKind::Service;
    Caller {
        member,
        client_ip: &caller.client_ip,
        // A service token's stand-in already names the token.
        via_token: (!service).then_some(caller.token.name.as_str()),
        owner_id: service.then_some(caller.token.member_id.as_str()),
    }
}

/// Parses a JSON body, insisting on a JSON content type.
fn json_body<T: serde::de::DeserializeOwned>(
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
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 429, description = "Too many failed attempts", body = ErrorBody),
    ),
    security(("token" = []))
)]
pub async fn caller_identity(caller: ApiCaller) -> Json<CallerIdentity> {
    Json(CallerIdentity {
        token_id: caller.token.id,
        token_name: caller.token.name,
        member_id: caller.token.member_id,
        service_token: caller.token.kind == TokenKind::Service,
        role: match caller.role {
            TokenRole::Reader => super::model::ApiTokenRole::Reader,
            TokenRole::Writer => super::model::ApiTokenRole::Writer,
            TokenRole::Admin => super::model::ApiTokenRole::Admin,
        },
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

fn parse_int(
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
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 429, description = "Too many failed attempts", body = ErrorBody),
    ),
    security(("token" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
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
    let member = acting_member(&state, &caller).await?;
    let (tokens, total) = tokens::list(
        &state.store,
        ops_caller(&member, &caller),
        &ListRequest {
            all_members: show_all,
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
        url
    };
    Ok(Json(TokenList {
        items: tokens.iter().map(|t| TokenJson::new(t, None)).collect(),
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
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "The token may not do this", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 429, description = "Too many failed attempts", body = ErrorBody),
    ),
    security(("token" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<TokenJson>), ApiError> {
    caller.require_admin()?;
    let body: CreateTokenBody = json_body(&headers, &body, &["application/json"])?;
    let service = body.service_token.unwrap_or(false);
    if caller.token.kind == TokenKind::Service && !service {
        // A personal token belongs to a member, and its secret is shown only
        // to that member: a script acting for the organization cannot mint one.
        return Err(ApiError::forbidden(
            "A service token can create service tokens only; sign in to create a personal token",
        ));
    }
    let member = acting_member(&state, &caller).await?;
    let issued = tokens::create(
        &state.store,
        ops_caller(&member, &caller),
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
    Ok((
        StatusCode::CREATED,
        Json(TokenJson::new(&issued.token, Some(issued.secret))),
    ))
}

#[utoipa::path(
    get, path = "/api/v2/tokens/{id}", tag = "tokens",
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 200, description = "The token; `token` holds its last four characters", body = TokenJson),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such token, or not visible to the caller", body = ErrorBody),
        (status = 429, description = "Too many failed attempts", body = ErrorBody),
    ),
    security(("token" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiTokenId(id): ApiTokenId,
) -> Result<Json<TokenJson>, ApiError> {
    let member = acting_member(&state, &caller).await?;
    let token = tokens::get(&state.store, ops_caller(&member, &caller), &id).await?;
    Ok(Json(TokenJson::new(&token, None)))
}

/// The properties a patch may touch.
const PATCHABLE: [&str; 5] = [
    "name",
    "description",
    "role",
    "defaultApiVersion",
    "expires",
];

fn patch_target(pointer: &str) -> Result<(), ApiError> {
    let field = pointer
        .strip_prefix('/')
        .map(|p| p.split('/').next().unwrap_or(""))
        .unwrap_or("");
    if PATCHABLE.contains(&field) {
        Ok(())
    } else {
        Err(ApiError::unprocessable(format!(
            "{pointer:?} cannot be changed; patch name, description, role, defaultApiVersion or expires"
        )))
    }
}

#[utoipa::path(
    patch, path = "/api/v2/tokens/{id}", tag = "tokens",
    params(("id" = String, Path, description = "Token id")),
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
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "The token may not do this", body = ErrorBody),
        (status = 404, description = "No such token", body = ErrorBody),
        (status = 409, description = "Changed by someone else meanwhile", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 422, description = "A valid patch that breaks a rule", body = ErrorBody),
        (status = 429, description = "Too many failed attempts", body = ErrorBody),
    ),
    security(("token" = []))
)]
pub async fn patch(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiTokenId(id): ApiTokenId,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<TokenJson>, ApiError> {
    caller.require_admin()?;
    let operations: json_patch::Patch = json_body(
        &headers,
        &body,
        &["application/json", "application/json-patch+json"],
    )?;
    let member = acting_member(&state, &caller).await?;
    let ops = ops_caller(&member, &caller);
    let token = tokens::get(&state.store, ops, &id).await?;
    for op in &operations.0 {
        patch_target(op.path().as_ref())?;
        match op {
            json_patch::PatchOperation::Move(m) => patch_target(&m.from.to_string())?,
            json_patch::PatchOperation::Copy(c) => patch_target(&c.from.to_string())?,
            _ => {}
        }
    }
    let mut doc = json!({
        "name": token.name,
        "description": token.description,
        "role": token.role.as_str(),
        "defaultApiVersion": token.api_version,
        "expires": token.expires_at,
    });
    json_patch::patch(&mut doc, &operations.0)
        .map_err(|e| ApiError::unprocessable(format!("The patch could not be applied: {e}")))?;
    let text = |field: &str| -> Result<String, ApiError> {
        doc.get(field)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ApiError::unprocessable(format!("{field} must be a string")))
    };
    let name = text("name")?;
    let description = text("description")?;
    // Exactly as in create: lowercase, no other spelling.
    let role: TokenRole = doc
        .get("role")
        .cloned()
        .and_then(|v| serde_json::from_value::<super::model::ApiTokenRole>(v).ok())
        .ok_or_else(|| ApiError::unprocessable("role must be reader, writer or admin"))?
        .into();
    let api_version = doc
        .get("defaultApiVersion")
        .and_then(Value::as_i64)
        .ok_or_else(|| ApiError::unprocessable("defaultApiVersion must be an integer"))?;
    let expires_at =
        match doc.get("expires") {
            Some(Value::Null) | None => None,
            Some(v) => Some(v.as_i64().ok_or_else(|| {
                ApiError::unprocessable("expires must be Unix milliseconds or null")
            })?),
        };
    let updated = tokens::edit(
        &state.store,
        ops,
        &token.id,
        EditRequest {
            name,
            description,
            role,
            api_version,
            expires_at,
        },
        Some(token.version),
    )
    .await
    .map_err(|e| match e {
        // The patch was well formed but the result breaks a rule.
        tokens::TokenError::Invalid(_) | tokens::TokenError::Forbidden(_) => {
            let base = ApiError::from(e);
            ApiError::unprocessable(base.message)
        }
        other => other.into(),
    })?;
    Ok(Json(TokenJson::new(&updated, None)))
}

#[utoipa::path(
    delete, path = "/api/v2/tokens/{id}", tag = "tokens",
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 204, description = "Deleted; its secret answers 401 from now on"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "The token may not do this", body = ErrorBody),
        (status = 404, description = "No such token (also when already deleted)", body = ErrorBody),
        (status = 429, description = "Too many failed attempts", body = ErrorBody),
    ),
    security(("token" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiTokenId(id): ApiTokenId,
) -> Result<StatusCode, ApiError> {
    caller.require_admin()?;
    let member = acting_member(&state, &caller).await?;
    tokens::delete(&state.store, ops_caller(&member, &caller), &id).await?;
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

const YEAR_MS: i64 = 366 * 24 * 60 * 60 * 1000;

#[utoipa::path(
    post, path = "/api/v2/tokens/{id}/reset", tag = "tokens",
    params(("id" = String, Path, description = "Token id"), ResetParams),
    responses(
        (status = 200, description = "Reset; `token` holds the new secret, shown only now", body = TokenJson),
        (status = 400, description = "Bad expiry", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "The token may not do this", body = ErrorBody),
        (status = 404, description = "No such token", body = ErrorBody),
        (status = 429, description = "Too many failed attempts", body = ErrorBody),
    ),
    security(("token" = []))
)]
pub async fn reset(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiTokenId(id): ApiTokenId,
    params: Result<Query<ResetParams>, QueryRejection>,
) -> Result<Json<TokenJson>, ApiError> {
    caller.require_admin()?;
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let now = now_ms();
    let expiry = match params.expiry.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(
            raw.parse::<i64>()
                .ok()
                .filter(|t| *t <= now.saturating_add(YEAR_MS))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "expiry must be Unix milliseconds, at most one year from now",
                    )
                })?,
        ),
    };
    let member = acting_member(&state, &caller).await?;
    let issued = tokens::reset(&state.store, ops_caller(&member, &caller), &id, expiry).await?;
    Ok(Json(TokenJson::new(&issued.token, Some(issued.secret))))
}

#[utoipa::path(
    post, path = "/api/v2/tokens/{id}/clone", tag = "tokens",
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 201, description = "The clone; `token` holds its secret, shown only now", body = TokenJson),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "The token may not do this", body = ErrorBody),
        (status = 404, description = "No such token", body = ErrorBody),
        (status = 429, description = "Too many failed attempts", body = ErrorBody),
    ),
    security(("token" = []))
)]
pub async fn clone(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiTokenId(id): ApiTokenId,
) -> Result<(StatusCode, Json<TokenJson>), ApiError> {
    caller.require_admin()?;
    let member = acting_member(&state, &caller).await?;
    let issued = tokens::clone(&state.store, ops_caller(&member, &caller), &id).await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenJson::new(&issued.token, Some(issued.secret))),
    ))
}
