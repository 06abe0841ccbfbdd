//! Who may do what with which token (PRODUCT.md §2). Pages, the API, the
//! store's list filter and the credential index all ask these functions;
//! nothing else decides, and each refusal has exactly one message.

use super::MemberRole;
use super::token::{TokenKind, TokenRole};

/// Who acts, as the rules see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor<'a> {
    /// A member signed in to the console, with their current role.
    Member { id: &'a str, role: MemberRole },
    /// A member's personal API token: acts as that member, with its
    /// effective role (see [`effective_role`]).
    PersonalToken { member_id: &'a str, role: TokenRole },
    /// A service token: acts for the organization, with its own role. It
    /// owns no personal tokens.
    ServiceToken { role: TokenRole },
}

impl<'a> Actor<'a> {
    /// The member the actor is, or acts as; `None` for the organization.
    pub fn member_id(self) -> Option<&'a str> {
        match self {
            Actor::Member { id, .. } => Some(id),
            Actor::PersonalToken { member_id, .. } => Some(member_id),
            Actor::ServiceToken { .. } => None,
        }
    }

    /// The role the actor acts with, on the member scale (a token role is
    /// worth the member role of the same name).
    pub fn role(self) -> MemberRole {
        match self {
            Actor::Member { role, .. } => role,
            Actor::PersonalToken { role, .. } | Actor::ServiceToken { role } => {
                role.as_member_role()
            }
        }
    }

    fn is_admin(self) -> bool {
        self.role().is_admin()
    }

    /// The role of the API token the actor acts through, if any.
    fn via_token(self) -> Option<TokenRole> {
        match self {
            Actor::Member { .. } => None,
            Actor::PersonalToken { role, .. } | Actor::ServiceToken { role } => Some(role),
        }
    }

    fn owns(self, token: TokenFacts<'_>) -> bool {
        token.kind == TokenKind::Personal && self.member_id() == Some(token.member_id)
    }
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

fn deny<T>(message: impl Into<String>) -> Result<T, Denied> {
    Err(Denied(message.into()))
}

/// Which tokens a list shows. The store turns each variant into its SQL
/// filter and the credential index counts with [`TokenScope::contains`], so
/// both follow this one definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScope<'a> {
    /// Every token (Admins' "All members' tokens").
    Everything,
    /// The member's own personal tokens and every service token.
    OwnAndService { member_id: &'a str },
    /// Service tokens only: the organization owns no personal tokens.
    ServiceOnly,
}

impl TokenScope<'_> {
    pub fn contains(self, kind: TokenKind, member_id: &str) -> bool {
        self.admits(kind, |own| member_id == own)
    }

    /// The same rule, with "is the token this member's?" answered by the
    /// caller, in whatever form is cheapest for it (the catalog compares
    /// numbers, thousands of times per search).
    pub fn admits(self, kind: TokenKind, belongs_to: impl FnOnce(&str) -> bool) -> bool {
        match self {
            TokenScope::Everything => true,
            TokenScope::OwnAndService { member_id: own } => {
                kind == TokenKind::Service || belongs_to(own)
            }
            TokenScope::ServiceOnly => kind == TokenKind::Service,
        }
    }
}

/// Whether the actor may switch to "All members' tokens".
pub fn can_see_all_members_tokens(actor: Actor<'_>) -> bool {
    actor.is_admin()
}

/// What a list shows the actor: their own personal tokens and every service
/// token, or with `all_members` (Admins and Owners only) everything.
pub fn list_scope(actor: Actor<'_>, all_members: bool) -> TokenScope<'_> {
    if all_members && can_see_all_members_tokens(actor) {
        return TokenScope::Everything;
    }
    match actor.member_id() {
        Some(member_id) => TokenScope::OwnAndService { member_id },
        None => TokenScope::ServiceOnly,
    }
}

/// Whether the actor may see the token at all (by id): what their list
/// shows, and for Admins and Owners everything.
pub fn can_view(actor: Actor<'_>, token: TokenFacts<'_>) -> bool {
    list_scope(actor, true).contains(token.kind, token.member_id)
}

/// Whether the actor may read the audit log.
pub fn can_read_audit_log(actor: Actor<'_>) -> bool {
    actor.is_admin()
}

/// Whether the actor may create or change any token at all: not with the
/// role No access, and through the API only with a token that acts as Admin
/// (a Reader token reads; a Writer token reads tokens but does not manage
/// them).
pub fn can_manage_tokens(actor: Actor<'_>) -> Result<(), Denied> {
    match actor.via_token() {
        Some(role) if role < TokenRole::Admin => deny(format!(
            "Managing access tokens needs an Admin token; this one acts as {}",
            role.label()
        )),
        _ if actor.role() == MemberRole::NoAccess => {
            deny("Your role is No access, so you cannot create or change tokens.")
        }
        _ => Ok(()),
    }
}

/// The reason a token role is above what the actor may hand out, if it is.
pub fn role_unavailable(actor: Actor<'_>, role: TokenRole) -> Option<String> {
    match TokenRole::cap_for(actor.role()) {
        Some(cap) if role <= cap => None,
        _ => Some(format!(
            "{} is above your role ({}).",
            role.label(),
            actor.role().label()
        )),
    }
}

/// Said wherever a service token's role could otherwise be changed.
pub const SERVICE_ROLE_FIXED: &str = "A service token's role is fixed when it is created.";

/// Why the token's role can never change, if it cannot: a service token's
/// role is fixed when it is created.
pub fn role_fixed(token: TokenFacts<'_>) -> Option<&'static str> {
    (token.kind == TokenKind::Service).then_some(SERVICE_ROLE_FIXED)
}

/// Why a role cannot be chosen on the create form (`token` is `None`) or
/// the edit form of `token`, if it cannot.
pub fn role_choice_unavailable(
    actor: Actor<'_>,
    token: Option<TokenFacts<'_>>,
    role: TokenRole,
) -> Option<String> {
    match token.and_then(|t| role_fixed(t).map(|why| (t, why))) {
        Some((token, why)) => (role != token.role).then(|| why.to_string()),
        None => role_unavailable(actor, role),
    }
}

/// Whether the actor may create tokens of this kind: personal tokens belong
/// to a member (so the organization, acting through a service token, cannot
/// make one), service tokens are for Admins and Owners.
pub fn can_create_kind(actor: Actor<'_>, kind: TokenKind) -> Result<(), Denied> {
    match kind {
        TokenKind::Personal if actor.member_id().is_none() => deny(
            "A service token can create service tokens only; sign in to create a personal token",
        ),
        TokenKind::Service if !actor.is_admin() => {
            deny("Only Admins and Owners can create service tokens.")
        }
        _ => Ok(()),
    }
}

pub fn can_create(actor: Actor<'_>, kind: TokenKind, role: TokenRole) -> Result<(), Denied> {
    can_manage_tokens(actor)?;
    can_create_kind(actor, kind)?;
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

/// Who may hand out a working secret for an existing token (clone, reset):
/// the token's own member for personal tokens, Admins and Owners for service
/// tokens. `verb` names the action in the refusal.
fn can_issue_secret_for(actor: Actor<'_>, token: TokenFacts<'_>, verb: &str) -> Result<(), Denied> {
    can_manage_tokens(actor)?;
    match token.kind {
        TokenKind::Personal if !actor.owns(token) => deny(format!(
            "Only the member who owns a personal token can {verb} it."
        )),
        TokenKind::Service if !actor.is_admin() => {
            deny(format!("Only Admins and Owners can {verb} service tokens."))
        }
        _ => Ok(()),
    }
}

/// Clone: the people who may reset, and never a token whose role is above
/// the actor's.
pub fn can_clone(actor: Actor<'_>, token: TokenFacts<'_>) -> Result<(), Denied> {
    can_issue_secret_for(actor, token, "clone")?;
    match role_unavailable(actor, token.role) {
        Some(reason) => deny(format!("You cannot clone this token: its role, {reason}")),
        None => Ok(()),
    }
}

/// Reset: a reset hands out a working secret, so only the token's own
/// member (personal) or an Admin/Owner (service).
pub fn can_reset(actor: Actor<'_>, token: TokenFacts<'_>) -> Result<(), Denied> {
    can_issue_secret_for(actor, token, "reset")
}

/// Edit and delete: the token's member, or any Admin/Owner. Service tokens
/// belong to the organization, so only Admins and Owners manage them.
pub fn can_manage(actor: Actor<'_>, token: TokenFacts<'_>) -> Result<(), Denied> {
    can_manage_tokens(actor)?;
    if actor.is_admin() || actor.owns(token) {
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
    if let Some(why) = role_fixed(token) {
        return deny(why);
    }
    match role_unavailable(actor, new_role) {
        Some(reason) => deny(format!("You cannot give this token that role: {reason}")),
        None => Ok(()),
    }
}

/// Whether the actor may see the members and change them at all: Admins
/// and Owners, through the API only with a token that acts as Admin.
pub fn can_manage_members(actor: Actor<'_>) -> Result<(), Denied> {
    match actor.via_token() {
        Some(role) if role < TokenRole::Admin => deny(format!(
            "Managing members needs an Admin token; this one acts as {}",
            role.label()
        )),
        _ if !actor.is_admin() => deny("Only Admins and Owners can manage members."),
        _ => Ok(()),
    }
}

/// Whether the actor may see the organization's token policy: Admins and
/// Owners (everyone else meets it on the create form, as a hint).
pub fn can_view_token_policy(actor: Actor<'_>) -> Result<(), Denied> {
    if actor.is_admin() {
        Ok(())
    } else {
        deny("Only Admins and Owners can see the organization's token policy.")
    }
}

/// Whether the actor may change the token policy: Owners only. An API token
/// acts as Admin at most, so no token can loosen the policy that binds it.
pub fn can_change_token_policy(actor: Actor<'_>) -> Result<(), Denied> {
    can_view_token_policy(actor)?;
    if is_owner(actor) {
        Ok(())
    } else {
        deny("Only Owners can change the token policy.")
    }
}

/// Owners are made and changed only by Owners. An API token acts as Admin
/// at most, so changes that touch an Owner are made in the console.
fn is_owner(actor: Actor<'_>) -> bool {
    actor.role() == MemberRole::Owner
}

/// Adding a member with `role`.
pub fn can_add_member(actor: Actor<'_>, role: MemberRole) -> Result<(), Denied> {
    can_manage_members(actor)?;
    if role == MemberRole::Owner && !is_owner(actor) {
        return deny("Only Owners can make a member an Owner.");
    }
    Ok(())
}

/// Giving the member whose role is now `current` the role `new_role`.
/// (That an Owner is left is [`keeps_an_owner`]'s to say, inside the
/// store's transaction.)
pub fn can_change_member_role(
    actor: Actor<'_>,
    current: MemberRole,
    new_role: MemberRole,
) -> Result<(), Denied> {
    can_manage_members(actor)?;
    if current == MemberRole::Owner && !is_owner(actor) {
        return deny("Only Owners can change an Owner's role.");
    }
    if new_role == MemberRole::Owner && !is_owner(actor) {
        return deny("Only Owners can make a member an Owner.");
    }
    Ok(())
}

/// Removing the member `target_id`, whose role is `target_role`. Nobody
/// removes themselves: it would end the session mid-action, and another
/// Admin should see it happen.
pub fn can_remove_member(
    actor: Actor<'_>,
    target_id: &str,
    target_role: MemberRole,
) -> Result<(), Denied> {
    can_manage_members(actor)?;
    if actor.member_id() == Some(target_id) && matches!(actor, Actor::Member { .. }) {
        return deny("You cannot remove yourself. Ask another Admin or Owner to do it.");
    }
    if target_role == MemberRole::Owner && !is_owner(actor) {
        return deny("Only Owners can remove an Owner.");
    }
    Ok(())
}

/// The organization always keeps an Owner: refuses demoting or removing
/// the last one. `owners` is how many Owners there are now, `target_role`
/// the member's current role and `new_role` what they would become (`None`:
/// removed).
pub fn keeps_an_owner(
    owners: i64,
    target_role: MemberRole,
    new_role: Option<MemberRole>,
) -> Result<(), Denied> {
    let loses_an_owner = target_role == MemberRole::Owner && new_role != Some(MemberRole::Owner);
    if loses_an_owner && owners <= 1 {
        deny("This is the organization's only Owner. Make another member an Owner first.")
    } else {
        Ok(())
    }
}

/// What a token can do now: a service token its own role; a personal token
/// the lower of its role and its member's current role. `None` means
/// nothing at all (the member has No access).
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

/// The rules above, checked against tables written out by hand: every actor
/// (each member role, each personal and service token role) against every
/// token (own, another member's and the organization's, in each role).
#[cfg(test)]
mod tests {
    use super::*;
    use MemberRole::{Admin, NoAccess, Owner, Reader, Writer};

    const ME: &str = "aaaaaaaaaaaaaaaaaaaaaaaa";
    const OTHER: &str = "bbbbbbbbbbbbbbbbbbbbbbbb";

    fn facts(kind: TokenKind, role: TokenRole, member_id: &'static str) -> TokenFacts<'static> {
        TokenFacts {
            kind,
            role,
            member_id,
        }
    }

    /// Every actor, with the name the tables use.
    fn actors() -> Vec<(&'static str, Actor<'static>)> {
        let mut all: Vec<(&'static str, Actor<'static>)> = [
            ("member NoAccess", NoAccess),
            ("member Reader", Reader),
            ("member Writer", Writer),
            ("member Admin", Admin),
            ("member Owner", Owner),
        ]
        .into_iter()
        .map(|(name, role)| (name, Actor::Member { id: ME, role }))
        .collect();
        for (name, role) in [
            ("personal Reader", TokenRole::Reader),
            ("personal Writer", TokenRole::Writer),
            ("personal Admin", TokenRole::Admin),
        ] {
            all.push((
                name,
                Actor::PersonalToken {
                    member_id: ME,
                    role,
                },
            ));
        }
        for (name, role) in [
            ("service Reader", TokenRole::Reader),
            ("service Writer", TokenRole::Writer),
            ("service Admin", TokenRole::Admin),
        ] {
            all.push((name, Actor::ServiceToken { role }));
        }
        all
    }

    /// The nine tokens of a table row, in column order: mine (Reader,
    /// Writer, Admin), another member's (same), the organization's (same).
    fn tokens() -> Vec<TokenFacts<'static>> {
        let mut all = Vec::new();
        for (kind, member_id) in [
            (TokenKind::Personal, ME),
            (TokenKind::Personal, OTHER),
            (TokenKind::Service, OTHER),
        ] {
            for role in TokenRole::ALL {
                all.push(TokenFacts {
                    kind,
                    role,
                    member_id,
                });
            }
        }
        all
    }

    /// Checks `decide` for every actor and token against `table`: one line
    /// per actor (in `actors()` order), `y`/`n` per token (in `tokens()`
    /// order), spaces ignored.
    fn check_table(what: &str, table: &[&str], decide: impl Fn(Actor, TokenFacts) -> bool) {
        let actors = actors();
        assert_eq!(table.len(), actors.len(), "{what}: one line per actor");
        let mut wrong = Vec::new();
        for ((name, actor), line) in actors.iter().zip(table) {
            let want: Vec<bool> = line
                .chars()
                .filter(|c| *c != ' ')
                .map(|c| c == 'y')
                .collect();
            assert_eq!(want.len(), 9, "{what}: nine columns for {name}");
            for (token, want) in tokens().into_iter().zip(want) {
                if decide(*actor, token) != want {
                    wrong.push(format!(
                        "{name} on {:?} {:?} of {}: expected {}",
                        token.kind,
                        token.role,
                        if token.member_id == ME {
                            "mine"
                        } else {
                            "other"
                        },
                        if want { "allowed" } else { "refused" }
                    ));
                }
            }
        }
        assert!(wrong.is_empty(), "{what}:\n{}", wrong.join("\n"));
    }

    /// Who may add, change and remove members, for every actor against
    /// every member role: `y`/`n` per role, Owner to No access.
    #[test]
    fn member_rules() {
        let roles = MemberRole::ALL;
        // Actors in `actors()` order; columns: the target's role (change
        // from it to Reader; remove), and the new role (add with it).
        let want: [(&str, &str, &str); 11] = [
            // change from     remove          add as
            ("nnnnn", "nnnnn", "nnnnn"), // member NoAccess
            ("nnnnn", "nnnnn", "nnnnn"), // member Reader
            ("nnnnn", "nnnnn", "nnnnn"), // member Writer
            ("nyyyy", "nyyyy", "nyyyy"), // member Admin
            ("yyyyy", "yyyyy", "yyyyy"), // member Owner
            ("nnnnn", "nnnnn", "nnnnn"), // personal Reader
            ("nnnnn", "nnnnn", "nnnnn"), // personal Writer
            ("nyyyy", "nyyyy", "nyyyy"), // personal Admin
            ("nnnnn", "nnnnn", "nnnnn"), // service Reader
            ("nnnnn", "nnnnn", "nnnnn"), // service Writer
            ("nyyyy", "nyyyy", "nyyyy"), // service Admin
        ];
        let yes = |line: &str, i: usize| line.as_bytes()[i] == b'y';
        for ((name, actor), (change, remove, add)) in actors().into_iter().zip(want) {
            for (i, role) in roles.into_iter().enumerate() {
                assert_eq!(
                    can_change_member_role(actor, role, MemberRole::Reader).is_ok(),
                    yes(change, i),
                    "{name} changing a {role:?}"
                );
                assert_eq!(
                    can_remove_member(actor, OTHER, role).is_ok(),
                    yes(remove, i),
                    "{name} removing a {role:?}"
                );
                assert_eq!(
                    can_add_member(actor, role).is_ok(),
                    yes(add, i),
                    "{name} adding a {role:?}"
                );
            }
        }
        // Promoting to Owner is the Owners' alone, whatever the member was.
        assert!(
            can_change_member_role(
                Actor::Member {
                    id: ME,
                    role: Admin
                },
                Reader,
                Owner
            )
            .is_err()
        );
        assert!(
            can_change_member_role(
                Actor::Member {
                    id: ME,
                    role: Owner
                },
                Reader,
                Owner
            )
            .is_ok()
        );
        // Nobody removes themselves in the console; an Admin may step down.
        assert!(
            can_remove_member(
                Actor::Member {
                    id: ME,
                    role: Owner
                },
                ME,
                Owner
            )
            .is_err()
        );
        assert!(
            can_change_member_role(
                Actor::Member {
                    id: ME,
                    role: Admin
                },
                Admin,
                Writer
            )
            .is_ok()
        );
    }

    // Columns:                 mine RWA  other RWA  service RWA
    #[test]
    fn view() {
        check_table(
            "can_view",
            &[
                "yyy nnn yyy", // member NoAccess: own and service (§2, literally)
                "yyy nnn yyy", // member Reader
                "yyy nnn yyy", // member Writer
                "yyy yyy yyy", // member Admin
                "yyy yyy yyy", // member Owner
                "yyy nnn yyy", // personal Reader
                "yyy nnn yyy", // personal Writer
                "yyy yyy yyy", // personal Admin
                "nnn nnn yyy", // service Reader: owns nothing
                "nnn nnn yyy", // service Writer
                "yyy yyy yyy", // service Admin: sees everything, owns none
            ],
            can_view,
        );
    }

    #[test]
    fn list_scope_and_contains_match_view() {
        for (name, actor) in actors() {
            let scope = list_scope(actor, false);
            for token in tokens() {
                let in_list = scope.contains(token.kind, token.member_id);
                let own_or_service = token.kind == TokenKind::Service || actor.owns(token);
                assert_eq!(in_list, own_or_service, "{name}: the default list");
            }
            let all = list_scope(actor, true);
            assert_eq!(
                all == TokenScope::Everything,
                matches!(actor.role(), Admin | Owner),
                "{name}: all members' tokens"
            );
        }
        assert_eq!(
            list_scope(
                Actor::ServiceToken {
                    role: TokenRole::Reader
                },
                false
            ),
            TokenScope::ServiceOnly
        );
        assert_eq!(
            list_scope(
                Actor::Member {
                    id: ME,
                    role: Writer
                },
                true
            ),
            TokenScope::OwnAndService { member_id: ME }
        );
    }

    #[test]
    fn clone() {
        check_table(
            "can_clone",
            &[
                "nnn nnn nnn", // member NoAccess
                "ynn nnn nnn", // member Reader: own, up to Reader
                "yyn nnn nnn", // member Writer: own, up to Writer
                "yyy nnn yyy", // member Admin: own and service
                "yyy nnn yyy", // member Owner
                "nnn nnn nnn", // personal Reader: cannot manage tokens
                "nnn nnn nnn", // personal Writer
                "yyy nnn yyy", // personal Admin
                "nnn nnn nnn", // service Reader
                "nnn nnn nnn", // service Writer
                "nnn nnn yyy", // service Admin: service tokens only
            ],
            |a, t| can_clone(a, t).is_ok(),
        );
    }

    #[test]
    fn reset() {
        check_table(
            "can_reset",
            &[
                "nnn nnn nnn", // member NoAccess
                "yyy nnn nnn", // member Reader: own, whatever its role
                "yyy nnn nnn", // member Writer
                "yyy nnn yyy", // member Admin
                "yyy nnn yyy", // member Owner
                "nnn nnn nnn", // personal Reader
                "nnn nnn nnn", // personal Writer
                "yyy nnn yyy", // personal Admin
                "nnn nnn nnn", // service Reader
                "nnn nnn nnn", // service Writer
                "nnn nnn yyy", // service Admin
            ],
            |a, t| can_reset(a, t).is_ok(),
        );
    }

    #[test]
    fn manage() {
        check_table(
            "can_manage",
            &[
                "nnn nnn nnn", // member NoAccess
                "yyy nnn nnn", // member Reader: own
                "yyy nnn nnn", // member Writer
                "yyy yyy yyy", // member Admin: everything
                "yyy yyy yyy", // member Owner
                "nnn nnn nnn", // personal Reader
                "nnn nnn nnn", // personal Writer
                "yyy yyy yyy", // personal Admin
                "nnn nnn nnn", // service Reader
                "nnn nnn nnn", // service Writer
                "yyy yyy yyy", // service Admin
            ],
            |a, t| can_manage(a, t).is_ok(),
        );
    }

    #[test]
    fn change_role_to_writer() {
        // Whether the token may become a Writer token (its own role is
        // always allowed to stay).
        check_table(
            "can_change_role to Writer",
            &[
                "nyn nyn nyn", // member NoAccess: above the role
                "nyn nyn nyn", // member Reader
                "yyy yyy nyn", // member Writer; service roles are fixed
                "yyy yyy nyn", // member Admin
                "yyy yyy nyn", // member Owner
                "nyn nyn nyn", // personal Reader
                "yyy yyy nyn", // personal Writer
                "yyy yyy nyn", // personal Admin
                "nyn nyn nyn", // service Reader
                "yyy yyy nyn", // service Writer
                "yyy yyy nyn", // service Admin
            ],
            |a, t| can_change_role(a, t, TokenRole::Writer).is_ok(),
        );
        let service = facts(TokenKind::Service, TokenRole::Reader, OTHER);
        let owner = Actor::Member {
            id: ME,
            role: Owner,
        };
        assert_eq!(
            can_change_role(owner, service, TokenRole::Admin),
            Err(Denied(SERVICE_ROLE_FIXED.to_string()))
        );
    }

    #[test]
    fn create() {
        // Columns here: personal Reader/Writer/Admin, then service
        // Reader/Writer/Admin.
        let table = [
            ("member NoAccess", "nnn nnn"),
            ("member Reader", "ynn nnn"),
            ("member Writer", "yyn nnn"),
            ("member Admin", "yyy yyy"),
            ("member Owner", "yyy yyy"),
            ("personal Reader", "nnn nnn"),
            ("personal Writer", "nnn nnn"),
            ("personal Admin", "yyy yyy"),
            ("service Reader", "nnn nnn"),
            ("service Writer", "nnn nnn"),
            ("service Admin", "nnn yyy"),
        ];
        let actors = actors();
        assert_eq!(table.len(), actors.len());
        for ((name, actor), (table_name, line)) in actors.into_iter().zip(table) {
            assert_eq!(name, table_name);
            let want: Vec<bool> = line
                .chars()
                .filter(|c| *c != ' ')
                .map(|c| c == 'y')
                .collect();
            let mut got = Vec::new();
            for kind in [TokenKind::Personal, TokenKind::Service] {
                for role in TokenRole::ALL {
                    got.push(can_create(actor, kind, role).is_ok());
                }
            }
            assert_eq!(got, want, "can_create for {name}");
        }
    }

    #[test]
    fn create_kind_and_manage_tokens() {
        let want = [
            // (actor, may manage tokens, may create personal, may create service)
            ("member NoAccess", false, true, false),
            ("member Reader", true, true, false),
            ("member Writer", true, true, false),
            ("member Admin", true, true, true),
            ("member Owner", true, true, true),
            ("personal Reader", false, true, false),
            ("personal Writer", false, true, false),
            ("personal Admin", true, true, true),
            ("service Reader", false, false, false),
            ("service Writer", false, false, false),
            ("service Admin", true, false, true),
        ];
        for ((name, actor), (want_name, manage, personal, service)) in
            actors().into_iter().zip(want)
        {
            assert_eq!(name, want_name);
            assert_eq!(can_manage_tokens(actor).is_ok(), manage, "{name}: manage");
            assert_eq!(
                can_create_kind(actor, TokenKind::Personal).is_ok(),
                personal,
                "{name}: personal"
            );
            assert_eq!(
                can_create_kind(actor, TokenKind::Service).is_ok(),
                service,
                "{name}: service"
            );
        }
        assert_eq!(
            can_manage_tokens(Actor::PersonalToken {
                member_id: ME,
                role: TokenRole::Writer
            }),
            Err(Denied(
                "Managing access tokens needs an Admin token; this one acts as Writer".into()
            ))
        );
    }

    #[test]
    fn role_choices_on_the_forms() {
        // Unavailable roles per actor: create form, then the edit form of a
        // personal Reader token and of a service Writer token.
        let want = [
            ("member NoAccess", "nnn", "nnn", "nyn"),
            ("member Reader", "ynn", "ynn", "nyn"),
            ("member Writer", "yyn", "yyn", "nyn"),
            ("member Admin", "yyy", "yyy", "nyn"),
            ("member Owner", "yyy", "yyy", "nyn"),
            ("personal Reader", "ynn", "ynn", "nyn"),
            ("personal Writer", "yyn", "yyn", "nyn"),
            ("personal Admin", "yyy", "yyy", "nyn"),
            ("service Reader", "ynn", "ynn", "nyn"),
            ("service Writer", "yyn", "yyn", "nyn"),
            ("service Admin", "yyy", "yyy", "nyn"),
        ];
        let personal = facts(TokenKind::Personal, TokenRole::Reader, ME);
        let service = facts(TokenKind::Service, TokenRole::Writer, OTHER);
        for ((name, actor), (want_name, create, edit_personal, edit_service)) in
            actors().into_iter().zip(want)
        {
            assert_eq!(name, want_name);
            let row = |token: Option<TokenFacts>| -> String {
                TokenRole::ALL
                    .into_iter()
                    .map(|r| match role_choice_unavailable(actor, token, r) {
                        None => 'y',
                        Some(_) => 'n',
                    })
                    .collect()
            };
            assert_eq!(row(None), create, "{name}: create form");
            assert_eq!(row(Some(personal)), edit_personal, "{name}: edit personal");
            assert_eq!(row(Some(service)), edit_service, "{name}: edit service");
        }
        assert_eq!(
            role_unavailable(
                Actor::Member {
                    id: ME,
                    role: Reader
                },
                TokenRole::Admin
            )
            .as_deref(),
            Some("Admin is above your role (Reader).")
        );
    }

    #[test]
    fn audit_log_and_all_members_switch() {
        for (name, actor) in actors() {
            let admin = matches!(actor.role(), Admin | Owner);
            assert_eq!(can_read_audit_log(actor), admin, "{name}");
            assert_eq!(can_see_all_members_tokens(actor), admin, "{name}");
        }
    }

    #[test]
    fn owners_change_the_token_policy_admins_see_it() {
        for (name, actor) in actors() {
            let member = matches!(actor, Actor::Member { .. });
            assert_eq!(
                can_view_token_policy(actor).is_ok(),
                matches!(actor.role(), Admin | Owner),
                "{name}"
            );
            // No API token acts as Owner, so none can change it.
            assert_eq!(
                can_change_token_policy(actor).is_ok(),
                member && actor.role() == Owner,
                "{name}"
            );
        }
    }

    #[test]
    fn the_last_owner_stays() {
        use MemberRole::*;
        for (owners, target, new, ok) in [
            (1, Owner, Some(Admin), false),
            (1, Owner, None, false),
            (1, Owner, Some(Owner), true),
            (2, Owner, Some(Reader), true),
            (2, Owner, None, true),
            (1, Admin, Some(NoAccess), true),
            (1, Admin, None, true),
            (1, Reader, Some(Owner), true),
        ] {
            assert_eq!(
                keeps_an_owner(owners, target, new).is_ok(),
                ok,
                "{owners} owners, {target:?} -> {new:?}"
            );
        }
    }

    #[test]
    fn effective_role_is_the_lower_of_token_and_member() {
        use TokenRole as T;
        // Rows: member role; columns: personal token Reader, Writer, Admin.
        let table: [(MemberRole, [Option<TokenRole>; 3]); 5] = [
            (NoAccess, [None, None, None]),
            (Reader, [Some(T::Reader), Some(T::Reader), Some(T::Reader)]),
            (Writer, [Some(T::Reader), Some(T::Writer), Some(T::Writer)]),
            (Admin, [Some(T::Reader), Some(T::Writer), Some(T::Admin)]),
            (Owner, [Some(T::Reader), Some(T::Writer), Some(T::Admin)]),
        ];
        for (member, want) in table {
            for (token_role, want) in T::ALL.into_iter().zip(want) {
                assert_eq!(
                    effective_role(TokenKind::Personal, token_role, member),
                    want,
                    "personal {token_role:?} of a {member:?}"
                );
                // A service token keeps its role whoever created it.
                assert_eq!(
                    effective_role(TokenKind::Service, token_role, member),
                    Some(token_role)
                );
            }
        }
    }

    #[test]
    fn refusals_say_why() {
        let reader = Actor::Member {
            id: ME,
            role: Reader,
        };
        let others = facts(TokenKind::Personal, TokenRole::Reader, OTHER);
        let service = facts(TokenKind::Service, TokenRole::Reader, OTHER);
        let message = |r: Result<(), Denied>| r.unwrap_err().0;
        assert_eq!(
            message(can_create(reader, TokenKind::Personal, TokenRole::Admin)),
            "You cannot create an Admin token: Admin is above your role (Reader)."
        );
        assert_eq!(
            message(can_clone(reader, others)),
            "Only the member who owns a personal token can clone it."
        );
        assert_eq!(
            message(can_reset(reader, service)),
            "Only Admins and Owners can reset service tokens."
        );
        assert_eq!(
            message(can_manage(reader, service)),
            "Only Admins and Owners can change service tokens."
        );
        assert_eq!(
            message(can_manage(
                Actor::Member {
                    id: ME,
                    role: NoAccess
                },
                service
            )),
            "Your role is No access, so you cannot create or change tokens."
        );
        assert_eq!(
            message(can_create(
                Actor::ServiceToken {
                    role: TokenRole::Admin
                },
                TokenKind::Personal,
                TokenRole::Reader
            )),
            "A service token can create service tokens only; sign in to create a personal token"
        );
    }
}
