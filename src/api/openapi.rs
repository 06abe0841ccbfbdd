//! The OpenAPI 3.1 document, generated from the handlers' annotations so it
//! cannot drift from what the server does.

use axum::Json;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{audit, credentials, error, forward_auth, members, model, tokens};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Latchkey API",
        description = "Manage an organization's API access tokens and members, and read its audit log. Authenticate with an access token in the Authorization header (raw, or as `Bearer <token>`).",
    ),
    paths(
        tokens::caller_identity,
        forward_auth::verify,
        credentials::revoke,
        tokens::list,
        tokens::create,
        tokens::get,
        tokens::patch,
        tokens::delete,
        tokens::reset,
        tokens::clone,
        tokens::bulk_delete,
        tokens::suspend,
        tokens::resume,
        tokens::end_grace,
        tokens::uses,
        members::list,
        members::patch,
        members::delete,
        audit::list,
    ),
    components(schemas(
        error::ErrorBody,
        model::TokenJson,
        model::TokenList,
        model::CallerIdentity,
        model::CreateTokenBody,
        model::ApiTokenRole,
        model::ApiMemberRole,
        model::PatchOperation,
        model::PatchOp,
        model::BulkDeleteBody,
        model::BulkDeleted,
        model::TokenUses,
        model::TokenUseJson,
        model::MemberJson,
        model::MemberList,
        model::AuditList,
        model::AuditEntryJson,
        model::AuditActorJson,
        model::AuditTokenJson,
        credentials::LeakReport,
        credentials::LeakReportReceipt,
    )),
    modifiers(&TokenAuth, &CommonResponses),
    tags(
        (name = "tokens", description = "Access tokens"),
        (name = "members", description = "The organization's members (Admin tokens)"),
        (name = "audit", description = "The audit log (Admin tokens)"),
        (name = "auth", description = "Forward authentication for reverse proxies"),
        (name = "credentials", description = "Reporting leaked secrets (no token needed)"),
    )
)]
pub struct ApiDoc;

struct TokenAuth;

impl Modify for TokenAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "An access token secret (lk_pat_… or lk_svc_…), optionally after `Bearer `",
            ))),
        );
    }
}

/// What every operation shares, written once: it is called with a token
/// (`security`), so it can answer 401 and 429, and one that takes a body can
/// answer 413 and 415. An operation that needs no token says so itself with
/// `security(())` (an empty requirement); it keeps that, and gets no 401.
struct CommonResponses;

impl CommonResponses {
    const AUTHENTICATED: [(&'static str, &'static str); 2] = [
        ("401", "Missing or invalid token"),
        ("429", "Too many failed attempts"),
    ];
    const WITH_BODY: [(&'static str, &'static str); 2] =
        [("413", "Body over 64 KiB"), ("415", "Body is not JSON")];

    fn add(operation: &mut Operation) {
        let public = operation.security.is_some();
        let with_body = operation.request_body.is_some();
        let shared = if public {
            &[][..]
        } else {
            &Self::AUTHENTICATED[..]
        };
        let extra = if with_body { &Self::WITH_BODY[..] } else { &[] };
        for (status, description) in shared.iter().chain(extra) {
            let error = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build();
            let response = ResponseBuilder::new()
                .description(*description)
                .content("application/json", error)
                .build();
            operation
                .responses
                .responses
                .entry((*status).to_string())
                .or_insert(response.into());
        }
        if !public {
            operation.security = Some(vec![SecurityRequirement::new(
                "token",
                Vec::<String>::new(),
            )]);
        }
    }
}

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
                &mut item.put,
            ]
            .into_iter()
            .flatten()
            {
                Self::add(operation);
            }
        }
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
