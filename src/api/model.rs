//! The API's JSON shapes (LaunchDarkly's), with their OpenAPI schemas.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::error::ApiError;
use crate::domain::token::{TokenKind, TokenRole};
use crate::store::Token;
use crate::tokens::EditRequest;

/// A token role as the API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApiTokenRole {
    Reader,
    Writer,
    Admin,
}

impl From<ApiTokenRole> for TokenRole {
    fn from(r: ApiTokenRole) -> Self {
        match r {
            ApiTokenRole::Reader => TokenRole::Reader,
            ApiTokenRole::Writer => TokenRole::Writer,
            ApiTokenRole::Admin => TokenRole::Admin,
        }
    }
}

impl From<TokenRole> for ApiTokenRole {
    fn from(r: TokenRole) -> Self {
        match r {
            TokenRole::Reader => ApiTokenRole::Reader,
            TokenRole::Writer => ApiTokenRole::Writer,
            TokenRole::Admin => ApiTokenRole::Admin,
        }
    }
}

/// A member role as the API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiMemberRole {
    Owner,
    Admin,
    Writer,
    Reader,
    NoAccess,
}

impl From<crate::domain::MemberRole> for ApiMemberRole {
    fn from(r: crate::domain::MemberRole) -> Self {
        use crate::domain::MemberRole as M;
        match r {
            M::Owner => ApiMemberRole::Owner,
            M::Admin => ApiMemberRole::Admin,
            M::Writer => ApiMemberRole::Writer,
            M::Reader => ApiMemberRole::Reader,
            M::NoAccess => ApiMemberRole::NoAccess,
        }
    }
}

impl From<ApiMemberRole> for crate::domain::MemberRole {
    fn from(r: ApiMemberRole) -> Self {
        use crate::domain::MemberRole as M;
        match r {
            ApiMemberRole::Owner => M::Owner,
            ApiMemberRole::Admin => M::Admin,
            ApiMemberRole::Writer => M::Writer,
            ApiMemberRole::Reader => M::Reader,
            ApiMemberRole::NoAccess => M::NoAccess,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Link {
    pub href: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl Link {
    pub fn json(href: impl Into<String>) -> Self {
        Link {
            href: href.into(),
            kind: "application/json",
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenLinks {
    #[serde(rename = "self")]
    pub self_: Link,
    pub parent: Link,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberSummary {
    #[serde(rename = "_id")]
    pub id: String,
    pub email: String,
    pub role: ApiMemberRole,
}

/// An access token. `token` holds the full secret only in the response to
/// create, clone and reset; everywhere else its last four characters.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenJson {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    pub description: String,
    pub role: ApiTokenRole,
    pub service_token: bool,
    pub member_id: String,
    #[serde(rename = "_member")]
    pub member: MemberSummary,
    pub default_api_version: i64,
    /// Unix milliseconds.
    pub creation_date: i64,
    /// Unix milliseconds.
    pub last_modified: i64,
    /// Unix milliseconds, or null if never used.
    pub last_used: Option<i64>,
    /// Unix milliseconds, or null if it never expires.
    pub expires: Option<i64>,
    /// Unix milliseconds since it was suspended (its secrets answer 401
    /// until it is resumed), or null while it works.
    pub suspended: Option<i64>,
    /// Unix milliseconds until which the secret replaced by the latest
    /// reset still works (its grace period), or null when none does.
    pub old_secret_valid_until: Option<i64>,
    /// Unix milliseconds of the replaced secret's last use since that
    /// reset, or null if not used since (or no grace period runs). When it
    /// stays null, ending the grace period early breaks no client.
    pub old_secret_last_used: Option<i64>,
    pub token: String,
    #[serde(rename = "_links")]
    pub links: TokenLinks,
}

impl TokenJson {
    /// `now_ms` decides whether a grace period still runs.
    pub fn new(token: &Token, secret: Option<String>, now_ms: i64) -> Self {
        let grace = token.grace(now_ms);
        TokenJson {
            id: token.id.clone(),
            name: token.name.clone(),
            description: token.description.clone(),
            role: token.role.into(),
            service_token: token.kind == TokenKind::Service,
            member_id: token.member_id.clone(),
            member: MemberSummary {
                id: token.member_id.clone(),
                email: token.member_email.clone(),
                role: token.member_role.into(),
            },
            default_api_version: token.api_version,
            creation_date: token.created_at,
            last_modified: token.updated_at,
            last_used: token.last_used_at,
            expires: token.expires_at,
            suspended: token.suspended_at,
            old_secret_valid_until: grace.map(|g| g.until),
            old_secret_last_used: grace.and_then(|g| g.last_used_at),
            token: secret.unwrap_or_else(|| token.last_four.clone()),
            links: TokenLinks {
                self_: Link::json(format!("/api/v2/tokens/{}", token.id)),
                parent: Link::json("/api/v2/tokens"),
            },
        }
    }
}

/// Where a token was used from lately.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenUseJson {
    /// The client address (as `--trust-forwarded-for` decides it).
    pub client_ip: String,
    /// The client's User-Agent, cut to 200 characters; empty if it sent
    /// none.
    pub user_agent: String,
    /// Unix milliseconds of the latest use from there.
    pub last_used: i64,
}

/// The latest few distinct sources of a token's uses, latest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenUses {
    pub items: Vec<TokenUseJson>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListLinks {
    #[serde(rename = "self")]
    pub self_: Link,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prev: Option<Link>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenList {
    pub items: Vec<TokenJson>,
    pub total_count: i64,
    #[serde(rename = "_links")]
    pub links: ListLinks,
}

/// The token a request was made with.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallerIdentity {
    pub token_id: String,
    pub token_name: String,
    pub member_id: String,
    pub service_token: bool,
    /// The role the token acts with now.
    pub role: ApiTokenRole,
}

/// A new token. Only `name` is required.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTokenBody {
    /// 1–256 characters after trimming.
    #[schema(min_length = 1, max_length = 256)]
    pub name: String,
    /// Up to 1000 characters.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// Defaults to `reader`.
    #[serde(default)]
    pub role: Option<ApiTokenRole>,
    /// Admins only; defaults to false.
    #[serde(default)]
    pub service_token: Option<bool>,
    /// 20240415 (default), 20220603 or 20210729.
    #[serde(default)]
    pub default_api_version: Option<i64>,
    /// Unix milliseconds in the future, or null for never.
    #[serde(default)]
    pub expires: Option<i64>,
}

/// One operation of a JSON Patch (RFC 6902), for the OpenAPI document; the
/// server parses patches with the `json-patch` crate.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct PatchOperation {
    pub op: PatchOp,
    /// A JSON Pointer: `/name`, `/description`, `/role`, `/defaultApiVersion` or `/expires`.
    pub path: String,
    /// The new value, for add, replace and test.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub value: Option<serde_json::Value>,
    /// The source pointer, for move and copy.
    #[serde(default)]
    pub from: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum PatchOp {
    Add,
    Remove,
    Replace,
    Move,
    Copy,
    Test,
}

/// The properties a patch may touch.
const PATCHABLE: [&str; 5] = [
    "name",
    "description",
    "role",
    "defaultApiVersion",
    "expires",
];

/// Refuses a pointer outside `PATCHABLE` (422: the patch is well formed).
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

/// What the token should become after `patch`: the patch applied to the
/// token's editable fields in their JSON form, read back as an edit. Every
/// problem is a 422 (the patch itself parsed).
pub fn edit_from_patch(token: &Token, patch: &json_patch::Patch) -> Result<EditRequest, ApiError> {
    for op in &patch.0 {
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
    json_patch::patch(&mut doc, &patch.0)
        .map_err(|e| ApiError::unprocessable(format!("The patch could not be applied: {e}")))?;
    let text = |field: &str| -> Result<String, ApiError> {
        doc.get(field)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ApiError::unprocessable(format!("{field} must be a string")))
    };
    // Exactly as in create: lowercase, no other spelling.
    let role = doc
        .get("role")
        .cloned()
        .and_then(|v| serde_json::from_value::<ApiTokenRole>(v).ok())
        .ok_or_else(|| ApiError::unprocessable("role must be reader, writer or admin"))?;
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
    Ok(EditRequest {
        name: text("name")?,
        description: text("description")?,
        role: role.into(),
        api_version,
        expires_at,
    })
}

/// The tokens to delete together.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkDeleteBody {
    /// 1–1000 token ids; all are deleted, or none.
    #[schema(min_items = 1, max_items = 1000)]
    pub ids: Vec<String>,
}

/// What a bulk delete deleted.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkDeleted {
    /// The ids of the deleted tokens; their secrets answer 401 from now on.
    pub deleted: Vec<String>,
}

/// A member of the organization.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberJson {
    #[serde(rename = "_id")]
    pub id: String,
    pub email: String,
    pub role: ApiMemberRole,
    /// Unix milliseconds.
    pub creation_date: i64,
    /// Unix milliseconds, or null if they never signed in.
    pub last_sign_in: Option<i64>,
    /// How many personal tokens they have.
    pub personal_token_count: i64,
    #[serde(rename = "_links")]
    pub links: TokenLinks,
}

impl MemberJson {
    pub fn new(summary: &crate::store::MemberSummary) -> Self {
        let m = &summary.member;
        MemberJson {
            id: m.id.clone(),
            email: m.email.clone(),
            role: m.role.into(),
            creation_date: m.created_at,
            last_sign_in: summary.last_sign_in_at,
            personal_token_count: summary.personal_tokens,
            links: TokenLinks {
                self_: Link::json(format!("/api/v2/members/{}", m.id)),
                parent: Link::json("/api/v2/members"),
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberList {
    pub items: Vec<MemberJson>,
    pub total_count: i64,
}

/// What a member patch may touch: `/role` only.
pub fn role_from_patch(
    current: crate::domain::MemberRole,
    patch: &json_patch::Patch,
) -> Result<crate::domain::MemberRole, ApiError> {
    for op in &patch.0 {
        let mut pointers = vec![op.path().to_string()];
        match op {
            json_patch::PatchOperation::Move(m) => pointers.push(m.from.to_string()),
            json_patch::PatchOperation::Copy(c) => pointers.push(c.from.to_string()),
            _ => {}
        }
        if let Some(p) = pointers.iter().find(|p| p.as_str() != "/role") {
            return Err(ApiError::unprocessable(format!(
                "{p:?} cannot be changed; patch /role"
            )));
        }
    }
    let mut doc = json!({ "role": ApiMemberRole::from(current) });
    json_patch::patch(&mut doc, &patch.0)
        .map_err(|e| ApiError::unprocessable(format!("The patch could not be applied: {e}")))?;
    doc.get("role")
        .cloned()
        .and_then(|v| serde_json::from_value::<ApiMemberRole>(v).ok())
        .map(Into::into)
        .ok_or_else(|| {
            ApiError::unprocessable("role must be owner, admin, writer, reader or no_access")
        })
}

/// Who did something, in an audit entry.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditActorJson {
    /// The member, also when they acted through a personal token.
    pub member_id: Option<String>,
    /// The API token the action came through.
    pub token_id: Option<String>,
    /// The member's email, or which token; `Leaked-secret report` for a
    /// revocation reported without a token; null for the command line.
    pub label: Option<String>,
}

/// The token an audit entry is about, named as it was then.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditTokenJson {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
}

/// One audit log entry.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryJson {
    #[serde(rename = "_id")]
    pub id: i64,
    /// Unix milliseconds.
    pub date: i64,
    /// `token_created`, `member_removed`, `sign_in_failed`, …
    pub action: String,
    pub actor: AuditActorJson,
    pub token: Option<AuditTokenJson>,
    /// For a clone, the token it was cloned from.
    pub source_token_id: Option<String>,
    pub client_ip: Option<String>,
    pub detail: Option<String>,
}

impl From<crate::store::AuditEvent> for AuditEntryJson {
    fn from(e: crate::store::AuditEvent) -> Self {
        AuditEntryJson {
            id: e.id,
            date: e.occurred_at,
            action: e.action.as_str().to_string(),
            actor: AuditActorJson {
                member_id: e.actor_member_id,
                token_id: e.actor_token_id,
                label: e.actor_email,
            },
            token: e.token_id.map(|id| AuditTokenJson {
                id,
                name: e.token_name.unwrap_or_default(),
            }),
            source_token_id: e.source_token_id,
            client_ip: e.client_ip,
            detail: e.detail,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditList {
    pub items: Vec<AuditEntryJson>,
    pub total_count: i64,
    #[serde(rename = "_links")]
    pub links: ListLinks,
}
