//! The OpenAPI 3.1 document, generated from the handlers' annotations so it
//! cannot drift from what the server does.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{error, model, tokens};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Latchkey API",
        description = "Manage an organization's API access tokens. Authenticate with an access token in the Authorization header (raw, or as `Bearer <token>`).",
    ),
    paths(
        tokens::caller_identity,
        tokens::list,
        tokens::create,
        tokens::get,
        tokens::patch,
        tokens::delete,
        tokens::reset,
        tokens::clone,
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
    )),
    modifiers(&TokenAuth),
    tags((name = "tokens", description = "Access tokens"))
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

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
