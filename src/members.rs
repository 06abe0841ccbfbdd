//! The member lifecycle: list, add, change role, remove. The one
//! implementation the Members page and the `/api/v2/members` endpoints both
//! call: each checks the rules in `domain::policy`, then changes the store,
//! which audits in the same transaction and keeps the last Owner.

use crate::action::{ActionError, ActionResult};
use crate::domain::email::normalize_email;
use crate::domain::password::{hash_password, validate_new_password};
use crate::domain::{MemberRole, ValidationError, ids, policy};
use crate::store::{Member, MemberSummary, Store, StoreError};
use crate::tokens::Caller;

/// What an Admin asks for when adding a member (raw text, checked here).
#[derive(Debug, Clone)]
pub struct AddRequest {
    pub email: String,
    pub role: MemberRole,
    /// The initial password, which the member should change; never stored
    /// or logged as typed.
    pub password: String,
}

/// What the caller may do to a member, for showing only usable menu items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Allowed {
    pub change_role: bool,
    pub remove: bool,
}

impl Allowed {
    pub fn any(self) -> bool {
        self.change_role || self.remove
    }
}

pub fn allowed(caller: Caller<'_>, member: &Member) -> Allowed {
    let actor = caller.actor();
    Allowed {
        change_role: policy::can_change_member_role(actor, member.role, member.role).is_ok(),
        remove: policy::can_remove_member(actor, &member.id, member.role).is_ok(),
    }
}

/// Every current member, for someone who may manage them.
pub async fn list(store: &Store, caller: Caller<'_>) -> ActionResult<Vec<MemberSummary>> {
    policy::can_manage_members(caller.actor())?;
    Ok(store.list_members().await?)
}

/// A current member by id, for someone who may manage members. Malformed
/// and unknown ids are both "not found".
pub async fn get(store: &Store, caller: Caller<'_>, id: &str) -> ActionResult<Member> {
    policy::can_manage_members(caller.actor())?;
    if !ids::is_valid_id(id) {
        return Err(ActionError::MemberNotFound);
    }
    store
        .find_member(id)
        .await?
        .ok_or(ActionError::MemberNotFound)
}

/// Adds a member with an initial password. Every field is checked and all
/// problems reported at once; nothing is stored unless all are right.
pub async fn add(store: &Store, caller: Caller<'_>, request: AddRequest) -> ActionResult<Member> {
    policy::can_manage_members(caller.actor())?;
    let mut errors = Vec::new();
    let email = normalize_email(&request.email)
        .map_err(|e| errors.push(e))
        .ok();
    if let Err(e) = validate_new_password(&request.password) {
        errors.push(e);
    }
    if let Err(denied) = policy::can_add_member(caller.actor(), request.role) {
        errors.push(ValidationError::new("role", denied.0));
    }
    let Some(email) = email.filter(|_| errors.is_empty()) else {
        return Err(ActionError::Invalid(errors));
    };
    if store.find_member_by_email(&email).await?.is_some() {
        return Err(ActionError::Invalid(vec![ValidationError::new(
            "email",
            format!("{email} is already a member."),
        )]));
    }
    // Argon2 is CPU-heavy: keep it off the runtime's threads.
    let password = request.password;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ActionError::Internal(anyhow::anyhow!("hashing task failed: {e}")))?
        .map_err(ActionError::Internal)?;
    store
        .create_member(&email, request.role, &hash, Some(&caller.audit()))
        .await
        .map_err(|e| match e {
            // Added by someone else a moment ago.
            StoreError::Conflict(message) => {
                ActionError::Invalid(vec![ValidationError::new("email", message)])
            }
            other => other.into(),
        })
}

/// Gives a member a new role. Their personal tokens act with the new
/// effective role from the very next request, in every instance. Returns
/// the member as they were and as they are now.
pub async fn change_role(
    store: &Store,
    caller: Caller<'_>,
    id: &str,
    role: MemberRole,
) -> ActionResult<(Member, Member)> {
    let before = get(store, caller, id).await?;
    policy::can_change_member_role(caller.actor(), before.role, role)?;
    if before.role == role {
        return Ok((before.clone(), before));
    }
    let after = store
        .set_member_role(id, role, Some(&caller.audit()))
        .await
        .map_err(member_error)?;
    Ok((before, after))
}

/// A member the caller may remove, with how many personal tokens would stop
/// working, for the confirmation.
pub async fn get_removable(
    store: &Store,
    caller: Caller<'_>,
    id: &str,
) -> ActionResult<(Member, i64)> {
    let member = get(store, caller, id).await?;
    policy::can_remove_member(caller.actor(), &member.id, member.role)?;
    let tokens = store.count_personal_tokens(&member.id).await?;
    Ok((member, tokens))
}

/// Removes a member: their personal tokens answer 401 at once, their
/// sessions end. Returns the member and how many tokens stopped working.
pub async fn remove(store: &Store, caller: Caller<'_>, id: &str) -> ActionResult<(Member, usize)> {
    let member = get(store, caller, id).await?;
    policy::can_remove_member(caller.actor(), &member.id, member.role)?;
    store
        .remove_member(id, Some(&caller.audit()))
        .await
        .map_err(member_error)
}

/// The store's "not found" here is about the member, not a token.
fn member_error(e: StoreError) -> ActionError {
    match e {
        StoreError::NotFound => ActionError::MemberNotFound,
        other => other.into(),
    }
}
