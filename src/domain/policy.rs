//! Who may do what with which token (PRODUCT.md §2). Pages and the API ask
//! these functions; nothing else decides.

use super::MemberRole;
use super::token::{TokenKind, TokenRole};

/// The member acting, as the rules see them.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub member_id: &'a str,
    pub role: MemberRole,
}

/// The token acted on, as the rules see it.
#[derive(Debug, Clone, Copy)]
pub struct TokenFacts<'a> {
    pub kind: TokenKind,
    pub role: TokenRole,
    pub member_id: &'a str,
}

/// Why an action is refused, in words fit for the person who tried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

fn deny(message: impl Into<String>) -> Result<(), Denied> {
    Err(Denied(message.into()))
}

fn owns(actor: Actor<'_>, token: TokenFacts<'_>) -> bool {
    token.kind == TokenKind::Personal && token.member_id == actor.member_id
}

fn no_access(actor: Actor<'_>) -> Result<(), Denied> {
    if actor.role == MemberRole::NoAccess {
        deny("Your role is No access, so you cannot create or change tokens.")
    } else {
        Ok(())
    }
}

/// Whether the actor may see the token at all (in the list, by id).
/// Members see their own personal tokens and every service token; Admins
/// and Owners see everything.
pub fn can_view(actor: Actor<'_>, token: TokenFacts<'_>) -> bool {
    actor.role.is_admin() || token.kind == TokenKind::Service || owns(actor, token)
}

/// The reason a role choice is unavailable to the actor, if it is.
pub fn role_unavailable(actor: Actor<'_>, role: TokenRole) -> Option<String> {
    match TokenRole::cap_for(actor.role) {
        Some(cap) if role <= cap => None,
        _ => Some(format!(
            "{} is above your role ({}).",
            role.label(),
            actor.role.label()
        )),
    }
}

pub fn can_create(actor: Actor<'_>, kind: TokenKind, role: TokenRole) -> Result<(), Denied> {
    no_access(actor)?;
    if kind == TokenKind::Service && !actor.role.is_admin() {
        return deny("Only Admins and Owners can create service tokens.");
    }
    match role_unavailable(actor, role) {
        Some(reason) => {
            let article = if role == TokenRole::Admin { "an" } else { "a" };
            deny(format!(
                "You cannot create {article} {} token: {reason}",
                role.label()
            ))
        }
        None => Ok(()),
    }
}

/// Clone: the token's own member for personal tokens, Admins/Owners for
/// service tokens; never a token whose role is above the actor's.
pub fn can_clone(actor: Actor<'_>, token: TokenFacts<'_>) -> Result<(), Denied> {
    no_access(actor)?;
    match token.kind {
        TokenKind::Personal if !owns(actor, token) => {
            return deny("Only the member who owns a personal token can clone it.");
        }
        TokenKind::Service if !actor.role.is_admin() => {
            return deny("Only Admins and Owners can clone service tokens.");
        }
        _ => {}
    }
    if let Some(reason) = role_unavailable(actor, token.role) {
        return deny(format!("You cannot clone this token: its role, {reason}"));
    }
    Ok(())
}

/// Reset: the same people as clone (a reset hands out a working secret).
pub fn can_reset(actor: Actor<'_>, token: TokenFacts<'_>) -> Result<(), Denied> {
    no_access(actor)?;
    match token.kind {
        TokenKind::Personal if !owns(actor, token) => {
            deny("Only the member who owns a personal token can reset it.")
        }
        TokenKind::Service if !actor.role.is_admin() => {
            deny("Only Admins and Owners can reset service tokens.")
        }
        _ => Ok(()),
    }
}

/// Edit and delete: the token's member, or any Admin/Owner. Service tokens
/// belong to the organization, so only Admins and Owners manage them.
pub fn can_manage(actor: Actor<'_>, token: TokenFacts<'_>) -> Result<(), Denied> {
    no_access(actor)?;
    if actor.role.is_admin() || owns(actor, token) {
        Ok(())
    } else if token.kind == TokenKind::Service {
        deny("Only Admins and Owners can change service tokens.")
    } else {
        deny("Only the token's member or an Admin can change this token.")
    }
}

/// A new role on edit: personal tokens only, and no higher than the actor's.
pub fn can_change_role(
    actor: Actor<'_>,
    token: TokenFacts<'_>,
    new_role: TokenRole,
) -> Result<(), Denied> {
    if new_role == token.role {
        return Ok(());
    }
    if token.kind == TokenKind::Service {
        return deny("A service token's role is fixed when it is created.");
    }
    match role_unavailable(actor, new_role) {
        Some(reason) => deny(format!("You cannot give this token that role: {reason}")),
        None => Ok(()),
    }
}

/// What a personal token can do now: the lower of its role and its member's
/// current role. `None` means nothing at all (the member has No access).
pub fn effective_role(
    kind: TokenKind,
    token_role: TokenRole,
    member_role: MemberRole,
) -> Option<TokenRole> {
    match kind {
        TokenKind::Service => Some(token_role),
        TokenKind::Personal => TokenRole::cap_for(member_role).map(|cap| cap.min(token_role)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "aaaaaaaaaaaaaaaaaaaaaaaa";
    const OTHER: &str = "bbbbbbbbbbbbbbbbbbbbbbbb";

    fn actor(role: MemberRole) -> Actor<'static> {
        Actor {
            member_id: ME,
            role,
        }
    }

    fn token(kind: TokenKind, role: TokenRole, member_id: &'static str) -> TokenFacts<'static> {
        TokenFacts {
            kind,
            role,
            member_id,
        }
    }

    #[test]
    fn create_respects_role_and_kind() {
        use MemberRole::*;
        assert!(can_create(actor(Reader), TokenKind::Personal, TokenRole::Reader).is_ok());
        assert!(can_create(actor(Reader), TokenKind::Personal, TokenRole::Writer).is_err());
        assert!(can_create(actor(Writer), TokenKind::Service, TokenRole::Reader).is_err());
        assert!(can_create(actor(Admin), TokenKind::Service, TokenRole::Admin).is_ok());
        assert!(can_create(actor(Owner), TokenKind::Personal, TokenRole::Admin).is_ok());
        assert!(can_create(actor(NoAccess), TokenKind::Personal, TokenRole::Reader).is_err());
        let msg = can_create(actor(Reader), TokenKind::Personal, TokenRole::Writer).unwrap_err();
        assert_eq!(
            msg.0,
            "You cannot create a Writer token: Writer is above your role (Reader)."
        );
    }

    #[test]
    fn visibility() {
        let mine = token(TokenKind::Personal, TokenRole::Reader, ME);
        let theirs = token(TokenKind::Personal, TokenRole::Reader, OTHER);
        let service = token(TokenKind::Service, TokenRole::Admin, OTHER);
        assert!(can_view(actor(MemberRole::Reader), mine));
        assert!(!can_view(actor(MemberRole::Writer), theirs));
        assert!(can_view(actor(MemberRole::Reader), service));
        assert!(can_view(actor(MemberRole::Admin), theirs));
    }

    #[test]
    fn clone_refuses_roles_above_the_actor() {
        let mine_admin = token(TokenKind::Personal, TokenRole::Admin, ME);
        // A member demoted to Writer cannot clone their old Admin token.
        assert!(can_clone(actor(MemberRole::Writer), mine_admin).is_err());
        assert!(can_clone(actor(MemberRole::Admin), mine_admin).is_ok());
        let theirs = token(TokenKind::Personal, TokenRole::Reader, OTHER);
        assert!(can_clone(actor(MemberRole::Owner), theirs).is_err());
    }

    #[test]
    fn manage_and_reset() {
        let theirs = token(TokenKind::Personal, TokenRole::Reader, OTHER);
        let service = token(TokenKind::Service, TokenRole::Reader, OTHER);
        assert!(can_manage(actor(MemberRole::Admin), theirs).is_ok());
        assert!(can_manage(actor(MemberRole::Writer), theirs).is_err());
        assert!(can_manage(actor(MemberRole::Writer), service).is_err());
        assert!(can_reset(actor(MemberRole::Admin), theirs).is_err());
        assert!(can_reset(actor(MemberRole::Admin), service).is_ok());
        assert!(can_change_role(actor(MemberRole::Admin), service, TokenRole::Admin).is_err());
    }

    #[test]
    fn effective_role_is_the_lower() {
        use TokenKind::*;
        assert_eq!(
            effective_role(Personal, TokenRole::Admin, MemberRole::Writer),
            Some(TokenRole::Writer)
        );
        assert_eq!(
            effective_role(Personal, TokenRole::Reader, MemberRole::Owner),
            Some(TokenRole::Reader)
        );
        assert_eq!(
            effective_role(Personal, TokenRole::Admin, MemberRole::NoAccess),
            None
        );
        assert_eq!(
            effective_role(Service, TokenRole::Admin, MemberRole::NoAccess),
            Some(TokenRole::Admin)
        );
    }
}
