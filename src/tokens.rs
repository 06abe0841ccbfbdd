//! The token lifecycle: the one implementation of create, clone, edit,
//! reset, delete, get and list that the pages and the API both call. Each
//! operation checks the rules in `domain`, then changes the store (with its
//! audit event in the same transaction).

use crate::action::{ActionError, ActionResult};
use crate::domain::listing::{Sort, TimeFilter};
use crate::domain::org_policy::TokenPolicy;
use crate::domain::policy::{self, Actor};
use crate::domain::secret::NewSecret;
use crate::domain::token::{
    TokenKind, TokenRole, clone_name, could_be_in_a_name, validate_api_version,
    validate_description, validate_expiry, validate_name, validate_old_secret_until,
};
use crate::domain::{ValidationError, ids};
use crate::store::credentials::TokenAuth;
use crate::store::{
    AuditActor, Member, NewToken, Store, Token, TokenFields, TokenFilter, UseSource,
};

/// Who acts.
#[derive(Debug, Clone, Copy)]
pub enum Acting<'a> {
    /// A member signed in to the console.
    Member(&'a Member),
    /// A member's personal API token, acting as the member with `role`, the
    /// lower of the token's role and the member's (`policy::effective_role`).
    PersonalToken {
        member: &'a Member,
        token: &'a TokenAuth,
        role: TokenRole,
    },
    /// A service token, acting for the organization with its own role.
    ServiceToken { token: &'a TokenAuth },
}

/// Who is asking for an operation, and from where.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub acting: Acting<'a>,
    pub client_ip: &'a str,
}

impl<'a> Caller<'a> {
    /// A member signed in to the console.
    pub fn member(member: &'a Member, client_ip: &'a str) -> Self {
        Caller {
            acting: Acting::Member(member),
            client_ip,
        }
    }

    /// The caller as the rules see them.
    pub fn actor(&self) -> Actor<'a> {
        match self.acting {
            Acting::Member(member) => Actor::Member {
                id: &member.id,
                role: member.role,
            },
            Acting::PersonalToken { member, role, .. } => Actor::PersonalToken {
                member_id: &member.id,
                role,
            },
            Acting::ServiceToken { token } => Actor::ServiceToken { role: token.role },
        }
    }

    /// Who is recorded as the owner of tokens this caller creates: the
    /// member, or for a service token the member who created it (the
    /// organization's tokens still need a creator on record).
    fn owner_id(&self) -> String {
        match self.acting {
            Acting::Member(member) | Acting::PersonalToken { member, .. } => member.id.clone(),
            Acting::ServiceToken { token } => token.member_id.clone(),
        }
    }

    pub(crate) fn audit(&self) -> AuditActor {
        let (member_id, token_id, label) = match self.acting {
            Acting::Member(member) => (Some(member.id.clone()), None, member.email.clone()),
            Acting::PersonalToken { member, token, .. } => (
                Some(member.id.clone()),
                Some(token.id.clone()),
                format!("{} (API token {})", member.email, token.name),
            ),
            Acting::ServiceToken { token } => (
                None,
                Some(token.id.clone()),
                format!("service token {}", token.name),
            ),
        };
        AuditActor {
            member_id,
            token_id,
            label,
            client_ip: Some(self.client_ip.to_string()),
        }
    }
}

/// A token together with its secret, which the caller shows exactly once.
pub struct Issued {
    pub token: Token,
    pub secret: String,
}

/// What a member asks for when creating a token (raw text is validated here).
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub name: String,
    pub description: String,
    pub role: TokenRole,
    pub kind: TokenKind,
    pub api_version: i64,
    pub expires_at: Option<i64>,
}

/// The editable fields as the editor wants them to be.
#[derive(Debug, Clone)]
pub struct EditRequest {
    pub name: String,
    pub description: String,
    pub role: TokenRole,
    pub api_version: i64,
    pub expires_at: Option<i64>,
}

/// Checks every field and reports all problems at once.
fn validate_fields(
    name: &str,
    description: &str,
    api_version: i64,
    expires_at: Option<i64>,
    current_expiry: Option<Option<i64>>,
    now_ms: i64,
) -> ActionResult<(String, String)> {
    let mut errors = Vec::new();
    let name = validate_name(name).map_err(|e| errors.push(e)).ok();
    let description = validate_description(description)
        .map_err(|e| errors.push(e))
        .ok();
    let _ = validate_api_version(api_version).map_err(|e| errors.push(e));
    // An unchanged expiry is fine even if it has passed since.
    if current_expiry != Some(expires_at) {
        let _ = validate_expiry(expires_at, now_ms).map_err(|e| errors.push(e));
    }
    match (name, description) {
        (Some(name), Some(description)) if errors.is_empty() => Ok((name, description)),
        _ => Err(ActionError::Invalid(errors)),
    }
}

/// `refused` (for other fields) with the token policy's verdict on
/// `expires_at` added, so that a form shows every problem at once. Only
/// then is the policy read here: when every other field is fine, the store
/// checks it inside the transaction that writes the token, the one check
/// that counts (see `store::settings`), at no extra read per create.
async fn with_policy_verdict(
    store: &Store,
    refused: ActionError,
    expires_at: Option<i64>,
) -> ActionError {
    let ActionError::Invalid(mut errors) = refused else {
        return refused;
    };
    if errors.iter().all(|e| e.field != "expires") {
        // Failing to read it only leaves the store's check to say it later.
        if let Ok(policy) = store.token_policy().await {
            let now = store.clock().now_ms();
            if let Err(e) = policy.check_expiry(expires_at, now) {
                errors.push(e);
            }
        }
    }
    ActionError::Invalid(errors)
}

/// Loads a token the caller may see.
pub async fn get(store: &Store, caller: Caller<'_>, id: &str) -> ActionResult<Token> {
    if !ids::is_valid_id(id) {
        return Err(ActionError::NotFound);
    }
    let token = store.find_token(id).await?.ok_or(ActionError::NotFound)?;
    if !policy::can_view(caller.actor(), token.facts()) {
        return Err(ActionError::NotFound);
    }
    Ok(token)
}

/// Which tokens to list, before the caller's visibility is applied.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    /// All members' tokens; honoured for Admins and Owners only.
    pub all_members: bool,
    pub name_contains: Option<String>,
    pub role: Option<TokenRole>,
    pub kind: Option<TokenKind>,
    pub sort: Sort,
    /// "Not used in N days" (N in `listing::UNUSED_DAYS`).
    pub unused_days: Option<i64>,
    /// "Expiring within N days".
    pub expiring_days: Option<i64>,
    pub limit: i64,
    pub offset: i64,
}

pub async fn list(
    store: &Store,
    caller: Caller<'_>,
    request: &ListRequest,
) -> ActionResult<(Vec<Token>, i64)> {
    if request
        .name_contains
        .as_deref()
        .is_some_and(|needle| !could_be_in_a_name(needle))
    {
        // No name holds it, so nothing matches (and PostgreSQL refuses a
        // NUL in text outright).
        return Ok((Vec::new(), 0));
    }
    let filter = TokenFilter {
        scope: policy::list_scope(caller.actor(), request.all_members),
        name_contains: request.name_contains.clone(),
        role: request.role,
        kind: request.kind,
        sort: request.sort,
        time: TimeFilter::new(
            request.unused_days,
            request.expiring_days,
            store.clock().now_ms(),
        ),
    };
    Ok(store
        .list_tokens(&filter, request.limit, request.offset)
        .await?)
}

pub async fn create(
    store: &Store,
    caller: Caller<'_>,
    request: CreateRequest,
) -> ActionResult<Issued> {
    policy::can_create(caller.actor(), request.kind, request.role)?;
    let (name, description) = match validate_fields(
        &request.name,
        &request.description,
        request.api_version,
        request.expires_at,
        None,
        store.clock().now_ms(),
    ) {
        Ok(valid) => valid,
        Err(refused) => return Err(with_policy_verdict(store, refused, request.expires_at).await),
    };
    let secret = NewSecret::generate(request.kind);
    let new = NewToken {
        fields: TokenFields {
            name,
            description,
            role: request.role,
            api_version: request.api_version,
            expires_at: request.expires_at,
        },
        kind: request.kind,
        member_id: caller.owner_id(),
        digest: secret.digest(),
        last_four: secret.last_four(),
    };
    let token = store.create_token(&new, &caller.audit(), None).await?;
    Ok(Issued {
        token,
        secret: secret.into_exposed(),
    })
}

/// A new token with the source's role, kind, description and API version
/// (PRODUCT.md §3; not its expiry, which belongs to the original's purpose),
/// named `<name> (copy)`, owned by the caller, with a fresh secret. It never
/// expires, or under a token policy lives as long as the policy allows:
/// the store decides that inside its transaction
/// (`TokenPolicy::clone_expiry`), so a clone is never refused for a policy
/// its creator had no say in.
pub async fn clone(store: &Store, caller: Caller<'_>, source_id: &str) -> ActionResult<Issued> {
    let source = get(store, caller, source_id).await?;
    policy::can_clone(caller.actor(), source.facts())?;
    let secret = NewSecret::generate(source.kind);
    let new = NewToken {
        fields: TokenFields {
            name: clone_name(&source.name),
            description: source.description.clone(),
            role: source.role,
            api_version: source.api_version,
            // Decided by the store, as said above.
            expires_at: None,
        },
        kind: source.kind,
        member_id: caller.owner_id(),
        digest: secret.digest(),
        last_four: secret.last_four(),
    };
    let token = store
        .create_token(&new, &caller.audit(), Some(&source.id))
        .await?;
    Ok(Issued {
        token,
        secret: secret.into_exposed(),
    })
}

/// A new secret; the old one keeps working until `old_valid_until` (Unix ms),
/// or stops at once when that is `None` or not in the future. More than a
/// year of grace is refused.
pub async fn reset(
    store: &Store,
    caller: Caller<'_>,
    id: &str,
    old_valid_until: Option<i64>,
) -> ActionResult<Issued> {
    let token = get(store, caller, id).await?;
    policy::can_reset(caller.actor(), token.facts())?;
    let old_valid_until = validate_old_secret_until(old_valid_until, store.clock().now_ms())
        .map_err(|e| ActionError::Invalid(vec![e]))?;
    let secret = NewSecret::generate(token.kind);
    let token = store
        .reset_token_secret(
            &token.id,
            &secret.digest(),
            &secret.last_four(),
            old_valid_until,
            &caller.audit(),
        )
        .await?;
    Ok(Issued {
        token,
        secret: secret.into_exposed(),
    })
}

/// Ends a reset's grace period early: the old secret answers 401 from the
/// next request. Allowed to those who may reset the token; `Conflict` when
/// there is no grace period running, or when `expected_version` (what the
/// caller confirmed) is no longer the token's.
pub async fn end_grace(
    store: &Store,
    caller: Caller<'_>,
    id: &str,
    expected_version: Option<i64>,
) -> ActionResult<Token> {
    let token = get(store, caller, id).await?;
    policy::can_reset(caller.actor(), token.facts())?;
    Ok(store
        .end_token_grace(&token.id, expected_version, &caller.audit())
        .await?)
}

/// A token the caller may see, with where it was used from lately.
pub async fn recent_uses(
    store: &Store,
    caller: Caller<'_>,
    id: &str,
) -> ActionResult<(Token, Vec<UseSource>)> {
    let token = get(store, caller, id).await?;
    let uses = store.recent_uses(&token.id).await?;
    Ok((token, uses))
}

/// Applies an edit. With `expected_version`, a token changed since the
/// caller read it is a conflict rather than silently overwritten.
pub async fn edit(
    store: &Store,
    caller: Caller<'_>,
    id: &str,
    request: EditRequest,
    expected_version: Option<i64>,
) -> ActionResult<Token> {
    let token = get(store, caller, id).await?;
    policy::can_manage(caller.actor(), token.facts())?;
    policy::can_change_role(caller.actor(), token.facts(), request.role)?;
    // Only a new expiry answers to the token policy: one set before the
    // policy (or never) may stay as it is.
    let new_expiry = request.expires_at != token.expires_at;
    let (name, description) = match validate_fields(
        &request.name,
        &request.description,
        request.api_version,
        request.expires_at,
        Some(token.expires_at),
        store.clock().now_ms(),
    ) {
        Ok(valid) => valid,
        Err(refused) if new_expiry => {
            return Err(with_policy_verdict(store, refused, request.expires_at).await);
        }
        Err(refused) => return Err(refused),
    };
    let fields = TokenFields {
        name,
        description,
        role: request.role,
        api_version: request.api_version,
        expires_at: request.expires_at,
    };
    let mut changed = Vec::new();
    if fields.name != token.name {
        changed.push("name");
    }
    if fields.description != token.description {
        changed.push("description");
    }
    if fields.role != token.role {
        changed.push("role");
    }
    if fields.api_version != token.api_version {
        changed.push("API version");
    }
    if fields.expires_at != token.expires_at {
        changed.push("expiry");
    }
    if changed.is_empty() {
        return Ok(token);
    }
    if expected_version.is_some_and(|v| v != token.version) {
        return Err(ActionError::Conflict(
            "The token was changed by someone else; reload and try again".to_string(),
        ));
    }
    Ok(store
        .update_token(
            &token.id,
            expected_version.unwrap_or(token.version),
            &fields,
            &changed,
            new_expiry,
            &caller.audit(),
        )
        .await?)
}

/// Deletes a token; every later request with its secret gets 401.
pub async fn delete(store: &Store, caller: Caller<'_>, id: &str) -> ActionResult<Token> {
    let token = get(store, caller, id).await?;
    policy::can_manage(caller.actor(), token.facts())?;
    Ok(store.delete_token(&token.id, &caller.audit()).await?)
}

/// The most tokens one bulk delete takes (a page shows 50).
pub const MAX_BULK_DELETE: usize = 1000;

/// Deletes several tokens at once, all or none: each must exist, be
/// visible to the caller and be theirs to delete, or nothing is deleted and
/// the refusal names every one that could not be. One audit event each.
pub async fn delete_many(
    store: &Store,
    caller: Caller<'_>,
    ids: &[String],
) -> ActionResult<Vec<Token>> {
    policy::can_manage_tokens(caller.actor())?;
    let mut wanted: Vec<String> = ids.iter().map(|id| id.trim().to_string()).collect();
    wanted.sort();
    wanted.dedup();
    let invalid =
        |message: String| ActionError::Invalid(vec![ValidationError::new("ids", message)]);
    if wanted.is_empty() {
        return Err(invalid("Choose at least one token to delete.".to_string()));
    }
    if wanted.len() > MAX_BULK_DELETE {
        return Err(invalid(format!(
            "At most {MAX_BULK_DELETE} tokens can be deleted at once."
        )));
    }
    if let Some(bad) = wanted.iter().find(|id| !ids::is_valid_id(id)) {
        return Err(invalid(format!("{bad:?} is not a token id.")));
    }
    let actor = caller.actor();
    let check = |token: &Token| {
        if !policy::can_view(actor, token.facts()) {
            // Not confirmed to exist, as everywhere else.
            return Err(None);
        }
        policy::can_manage(actor, token.facts()).map_err(|d| Some(d.0))
    };
    Ok(store.delete_tokens(&wanted, check, &caller.audit()).await?)
}

/// Suspends a token: every secret of it answers 401 from the next request
/// until it is resumed. Allowed to those who may delete it.
pub async fn suspend(store: &Store, caller: Caller<'_>, id: &str) -> ActionResult<Token> {
    set_suspended(store, caller, id, true).await
}

/// Resumes a suspended token: its secrets work again, unchanged.
pub async fn resume(store: &Store, caller: Caller<'_>, id: &str) -> ActionResult<Token> {
    set_suspended(store, caller, id, false).await
}

async fn set_suspended(
    store: &Store,
    caller: Caller<'_>,
    id: &str,
    suspended: bool,
) -> ActionResult<Token> {
    let token = get(store, caller, id).await?;
    policy::can_manage(caller.actor(), token.facts())?;
    Ok(store
        .set_token_suspended(&token.id, suspended, &caller.audit())
        .await?)
}

/// Sets the organization's token policy (Owners only); returns it
/// `(before, after)`. It binds every create, clone and new expiry from the
/// next write on, on every instance, and leaves existing tokens as they are.
pub async fn set_policy(
    store: &Store,
    caller: Caller<'_>,
    wanted: TokenPolicy,
) -> ActionResult<(TokenPolicy, TokenPolicy)> {
    policy::can_change_token_policy(caller.actor())?;
    Ok(store.set_token_policy(wanted, &caller.audit()).await?)
}

/// What the caller may do with a token, for showing only usable menu items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Allowed {
    pub edit: bool,
    pub clone: bool,
    pub reset: bool,
    /// Suspend and resume, as delete.
    pub suspend: bool,
    pub delete: bool,
}

pub fn allowed(caller: Caller<'_>, token: &Token) -> Allowed {
    let actor = caller.actor();
    let manage = policy::can_manage(actor, token.facts()).is_ok();
    Allowed {
        edit: manage,
        clone: policy::can_clone(actor, token.facts()).is_ok(),
        reset: policy::can_reset(actor, token.facts()).is_ok(),
        suspend: manage,
        delete: manage,
    }
}

/// Loads a token the caller may edit or delete (`Forbidden` with the reason
/// otherwise), for showing the edit form or the delete confirmation.
pub async fn get_manageable(store: &Store, caller: Caller<'_>, id: &str) -> ActionResult<Token> {
    let token = get(store, caller, id).await?;
    policy::can_manage(caller.actor(), token.facts())?;
    Ok(token)
}

/// Loads a token the caller may reset, for showing the reset confirmation.
pub async fn get_resettable(store: &Store, caller: Caller<'_>, id: &str) -> ActionResult<Token> {
    let token = get(store, caller, id).await?;
    policy::can_reset(caller.actor(), token.facts())?;
    Ok(token)
}
