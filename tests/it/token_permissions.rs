//! Who may do what with which token (PRODUCT.md §2): the whole matrix on the
//! token operations, then spot checks that the pages enforce the same.
//!
//! The expected outcomes come from a model of the rules written here from
//! the product spec, not from `latchkey::domain::policy`, so that the two
//! check each other.

use std::collections::BTreeSet;

use latchkey::action::ActionError;
use latchkey::domain::MemberRole;
use latchkey::domain::policy::effective_role;
use latchkey::domain::token::{TokenKind, TokenRole};
use latchkey::store::{Member, Token};
use latchkey::tokens::{self, EditRequest, ListRequest};
use reqwest::StatusCode;

use crate::db::TestStore;
use crate::helpers::{HOME, TestResult, browser};
use crate::html;
use crate::token_support::{
    TOKENS_URL, Team, caller, count_tokens, create, email_for, post_form, reload, request,
    seed_token, set_member_role, spawn_team,
};

const ACTORS: [MemberRole; 5] = [
    MemberRole::Owner,
    MemberRole::Admin,
    MemberRole::Writer,
    MemberRole::Reader,
    MemberRole::NoAccess,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Forbidden,
    NotFound,
}

/// Whose token the actor acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Whose {
    /// The actor's own personal token.
    Own,
    /// Another member's personal token.
    Other,
    /// A service token another member created.
    Service,
    /// A service token the actor created (when they had the role for it).
    OwnService,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    View,
    Clone,
    /// Edit the name, keeping the role.
    Rename,
    /// Edit the role (to the same role: a no-op edit).
    SetRole(TokenRole),
    Reset,
    Delete,
}

/// The highest token role a member role may hand out or use.
fn cap(actor: MemberRole) -> Option<TokenRole> {
    match actor {
        MemberRole::NoAccess => None,
        MemberRole::Reader => Some(TokenRole::Reader),
        MemberRole::Writer => Some(TokenRole::Writer),
        MemberRole::Admin | MemberRole::Owner => Some(TokenRole::Admin),
    }
}

fn within_cap(actor: MemberRole, role: TokenRole) -> bool {
    cap(actor).is_some_and(|c| role <= c)
}

/// PRODUCT.md §2, as a table.
fn expected(actor: MemberRole, whose: Whose, token_role: TokenRole, action: Action) -> Outcome {
    let admin = matches!(actor, MemberRole::Admin | MemberRole::Owner);
    let service = matches!(whose, Whose::Service | Whose::OwnService);
    let own_personal = whose == Whose::Own;
    // Members see their own personal tokens and every service token; Admins
    // and Owners see everything. What is not visible does not exist.
    if !(admin || service || own_personal) {
        return Outcome::NotFound;
    }
    if action == Action::View {
        return Outcome::Ok;
    }
    // No access: nothing at all.
    if actor == MemberRole::NoAccess {
        return Outcome::Forbidden;
    }
    let allow = |ok: bool| if ok { Outcome::Ok } else { Outcome::Forbidden };
    // Clone and reset: the token's own member for personal tokens,
    // Admins/Owners for service tokens.
    let may_clone_or_reset = if service { admin } else { own_personal };
    // Edit and delete: the token's member or any Admin/Owner (service
    // tokens: Admins/Owners only).
    let may_manage = admin || own_personal;
    match action {
        Action::View => Outcome::Ok,
        Action::Clone => allow(may_clone_or_reset && within_cap(actor, token_role)),
        Action::Reset => allow(may_clone_or_reset),
        Action::Rename | Action::Delete => allow(may_manage),
        Action::SetRole(role) => allow(
            may_manage
                && (role == token_role
                    // A service token's role is fixed; a personal token's new
                    // role may not be above the actor's.
                    || (!service && within_cap(actor, role))),
        ),
    }
}

fn outcome_of<T>(result: &Result<T, ActionError>) -> Result<Outcome, String> {
    match result {
        Ok(_) => Ok(Outcome::Ok),
        Err(ActionError::Forbidden(message)) if !message.trim().is_empty() => {
            Ok(Outcome::Forbidden)
        }
        Err(ActionError::NotFound) => Ok(Outcome::NotFound),
        Err(other) => Err(format!("unexpected error {other:?}")),
    }
}

async fn target_token(
    store: &TestStore,
    team: &Team,
    actor: &Member,
    whose: Whose,
    role: TokenRole,
    n: usize,
) -> anyhow::Result<Token> {
    let name = format!("case {n} {whose:?} {role:?}");
    match whose {
        Whose::Own => seed_token(store, actor, &name, TokenKind::Personal, role).await,
        Whose::Other => seed_token(store, &team.other, &name, TokenKind::Personal, role).await,
        Whose::Service => seed_token(store, &team.other, &name, TokenKind::Service, role).await,
        Whose::OwnService => seed_token(store, actor, &name, TokenKind::Service, role).await,
    }
}

fn edit_of(token: &Token, name: &str, role: TokenRole) -> EditRequest {
    EditRequest {
        name: name.to_string(),
        description: token.description.clone(),
        role,
        api_version: token.api_version,
        expires_at: token.expires_at,
    }
}

/// Runs one case and describes anything wrong with it.
async fn run_case(
    store: &TestStore,
    team: &Team,
    actor_role: MemberRole,
    whose: Whose,
    token_role: TokenRole,
    action: Action,
    n: usize,
) -> anyhow::Result<Option<String>> {
    let actor = team.with_role(actor_role);
    let token = target_token(store, team, actor, whose, token_role, n).await?;
    let before = count_tokens(store).await?;
    let want = expected(actor_role, whose, token_role, action);
    let c = caller(actor);
    let renamed = format!("{} renamed", token.name);
    let (got, produced) = match action {
        Action::View => (outcome_of(&tokens::get(store, c, &token.id).await), None),
        Action::Clone => {
            let r = tokens::clone(store, c, &token.id).await;
            let produced = r.as_ref().ok().map(|i| i.token.clone());
            (outcome_of(&r), produced)
        }
        Action::Rename => {
            let edit = edit_of(&token, &renamed, token.role);
            (
                outcome_of(&tokens::edit(store, c, &token.id, edit, None).await),
                None,
            )
        }
        Action::SetRole(role) => {
            let edit = edit_of(&token, &token.name, role);
            (
                outcome_of(&tokens::edit(store, c, &token.id, edit, None).await),
                None,
            )
        }
        Action::Reset => (
            outcome_of(&tokens::reset(store, c, &token.id, None).await),
            None,
        ),
        Action::Delete => (outcome_of(&tokens::delete(store, c, &token.id).await), None),
    };
    let got = match got {
        Ok(got) => got,
        Err(e) => return Ok(Some(e)),
    };
    if got != want {
        return Ok(Some(format!("expected {want:?}, got {got:?}")));
    }

    // What the operation left behind.
    let after = count_tokens(store).await?;
    let now = store.find_token(&token.id).await?;
    let problem = match (got, action) {
        (Outcome::Ok, Action::Clone) => {
            let clone = produced.expect("a clone");
            (after != before + 1
                || clone.member_id != actor.id
                || clone.kind != token.kind
                || clone.role != token.role
                || now.as_ref() != Some(&token))
            .then(|| format!("clone stored wrongly: {clone:?}, {before} → {after} tokens"))
        }
        (Outcome::Ok, Action::Rename) => (now.as_ref().map(|t| t.name.as_str())
            != Some(renamed.as_str()))
        .then(|| format!("not renamed: {now:?}")),
        (Outcome::Ok, Action::SetRole(role)) => {
            (now.as_ref().map(|t| t.role) != Some(role)).then(|| format!("role not set: {now:?}"))
        }
        (Outcome::Ok, Action::Reset) => (now.as_ref().map(|t| &t.last_four)
            == Some(&token.last_four)
            && now.as_ref().map(|t| t.version) == Some(token.version))
        .then(|| format!("not reset: {now:?}")),
        (Outcome::Ok, Action::Delete) => {
            (now.is_some() || after != before - 1).then(|| format!("not deleted: {now:?}"))
        }
        // Refused or read-only: nothing changed.
        _ => (now.as_ref() != Some(&token) || after != before)
            .then(|| format!("changed although {got:?}: {now:?}, {before} → {after} tokens")),
    };
    if problem.is_some() {
        return Ok(problem);
    }

    // The row menu offers exactly the actions that are allowed.
    if want != Outcome::NotFound {
        let allowed = tokens::allowed(c, &token);
        let offered = match action {
            Action::Clone => Some(allowed.clone),
            Action::Reset => Some(allowed.reset),
            Action::Rename => Some(allowed.edit),
            Action::Delete => Some(allowed.delete),
            _ => None,
        };
        if let Some(offered) = offered
            && offered != (want == Outcome::Ok)
        {
            return Ok(Some(format!(
                "the menu offers it: {offered}, but the outcome is {want:?}"
            )));
        }
    }
    Ok(None)
}

#[tokio::test]
async fn permission_matrix_of_token_actions() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    let actions = [
        Action::View,
        Action::Clone,
        Action::Rename,
        Action::SetRole(TokenRole::Reader),
        Action::SetRole(TokenRole::Writer),
        Action::SetRole(TokenRole::Admin),
        Action::Reset,
        Action::Delete,
    ];
    let mut failures = Vec::new();
    let mut n = 0;
    for actor in ACTORS {
        for whose in [Whose::Own, Whose::Other, Whose::Service, Whose::OwnService] {
            for token_role in TokenRole::ALL {
                for action in actions {
                    n += 1;
                    if let Some(problem) =
                        run_case(store, &team, actor, whose, token_role, action, n).await?
                    {
                        failures.push(format!(
                            "{actor:?} member, {action:?} on {whose:?} {token_role:?} token: {problem}"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    Ok(())
}

#[tokio::test]
async fn permission_matrix_of_create() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    let mut failures = Vec::new();
    for actor_role in ACTORS {
        let actor = team.with_role(actor_role);
        for kind in [TokenKind::Personal, TokenKind::Service] {
            for role in TokenRole::ALL {
                let case = format!("{actor_role:?} member creates a {kind:?} {role:?} token");
                let admin = matches!(actor_role, MemberRole::Admin | MemberRole::Owner);
                let allowed = actor_role != MemberRole::NoAccess
                    && (kind == TokenKind::Personal || admin)
                    && within_cap(actor_role, role);
                let want = if allowed {
                    Outcome::Ok
                } else {
                    Outcome::Forbidden
                };
                let before = count_tokens(store).await?;
                let result = tokens::create(store, caller(actor), request(&case, kind, role)).await;
                let after = count_tokens(store).await?;
                match outcome_of(&result) {
                    Err(e) => failures.push(format!("{case}: {e}")),
                    Ok(got) if got != want => {
                        failures.push(format!("{case}: expected {want:?}, got {got:?}"))
                    }
                    Ok(Outcome::Ok) => {
                        let t = &result.as_ref().expect("created").token;
                        if t.kind != kind
                            || t.role != role
                            || t.member_id != actor.id
                            || after != before + 1
                        {
                            failures.push(format!("{case}: stored wrongly: {t:?}"));
                        }
                    }
                    Ok(_) => {
                        if after != before {
                            failures.push(format!("{case}: refused but stored"));
                        }
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    Ok(())
}

#[tokio::test]
async fn list_shows_each_member_what_they_may_see() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    let mut personal = Vec::new();
    for role in ACTORS {
        let m = team.with_role(role);
        let t = seed_token(
            store,
            m,
            &format!("{role:?} own"),
            TokenKind::Personal,
            TokenRole::Reader,
        )
        .await?;
        personal.push((m.id.clone(), t.id));
    }
    let other = seed_token(
        store,
        &team.other,
        "other's",
        TokenKind::Personal,
        TokenRole::Admin,
    )
    .await?;
    personal.push((team.other.id.clone(), other.id));
    let service = seed_token(
        store,
        &team.other,
        "service",
        TokenKind::Service,
        TokenRole::Admin,
    )
    .await?;
    let everything: BTreeSet<String> = personal
        .iter()
        .map(|(_, id)| id.clone())
        .chain([service.id.clone()])
        .collect();

    for actor_role in ACTORS {
        let actor = team.with_role(actor_role);
        let own_and_service: BTreeSet<String> = personal
            .iter()
            .filter(|(member, _)| *member == actor.id)
            .map(|(_, id)| id.clone())
            .chain([service.id.clone()])
            .collect();
        let admin = matches!(actor_role, MemberRole::Admin | MemberRole::Owner);
        for all_members in [false, true] {
            let request = ListRequest {
                all_members,
                limit: 100,
                ..ListRequest::default()
            };
            let (tokens, total) = tokens::list(store, caller(actor), &request).await?;
            let seen: BTreeSet<String> = tokens.into_iter().map(|t| t.id).collect();
            let want = if all_members && admin {
                &everything
            } else {
                &own_and_service
            };
            assert_eq!(
                &seen, want,
                "{actor_role:?} member, all_members={all_members}"
            );
            assert_eq!(total as usize, want.len(), "{actor_role:?} total");
        }
        // What the list hides, `get` does not confirm either.
        for id in &everything {
            let visible = admin || own_and_service.contains(id);
            let got = tokens::get(store, caller(actor), id).await;
            assert_eq!(
                outcome_of(&got),
                Ok(if visible {
                    Outcome::Ok
                } else {
                    Outcome::NotFound
                }),
                "{actor_role:?} member gets token {id}"
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn demoted_member_keeps_their_tokens_but_not_the_old_role() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    let writer_token = create(
        store,
        &team.writer,
        "ci",
        TokenKind::Personal,
        TokenRole::Writer,
    )
    .await?
    .token;
    let reader_token = create(
        store,
        &team.writer,
        "ro",
        TokenKind::Personal,
        TokenRole::Reader,
    )
    .await?
    .token;

    set_member_role(store, &team.writer, MemberRole::Reader).await?;
    let demoted = reload(store, &team.writer).await?;
    assert_eq!(demoted.role, MemberRole::Reader);
    let c = caller(&demoted);

    // Still theirs and visible, but worth only what the member is worth now.
    assert_eq!(
        effective_role(TokenKind::Personal, writer_token.role, demoted.role),
        Some(TokenRole::Reader)
    );
    assert_eq!(
        effective_role(TokenKind::Personal, reader_token.role, demoted.role),
        Some(TokenRole::Reader)
    );
    assert_eq!(
        effective_role(TokenKind::Service, TokenRole::Admin, demoted.role),
        Some(TokenRole::Admin),
        "service tokens do not depend on their creator"
    );
    let seen = tokens::get(store, c, &writer_token.id).await?;
    assert_eq!(seen.member_role, MemberRole::Reader);

    // Cloning the Writer token would mint a Writer token: refused.
    let before = count_tokens(store).await?;
    let refused = tokens::clone(store, c, &writer_token.id).await;
    assert!(
        matches!(&refused, Err(ActionError::Forbidden(m)) if m.contains("above your role")),
        "{:?}",
        refused.as_ref().err()
    );
    assert_eq!(count_tokens(store).await?, before);
    // The Reader token still clones.
    let cloned = tokens::clone(store, c, &reader_token.id).await?;
    assert_eq!(cloned.token.role, TokenRole::Reader);
    // Creating a Writer token is refused; editing the old one up to Admin too.
    assert!(matches!(
        tokens::create(
            store,
            c,
            request("again", TokenKind::Personal, TokenRole::Writer)
        )
        .await,
        Err(ActionError::Forbidden(_))
    ));
    let up = edit_of(&writer_token, "ci", TokenRole::Admin);
    assert!(matches!(
        tokens::edit(store, c, &writer_token.id, up, None).await,
        Err(ActionError::Forbidden(_))
    ));
    // Lowering it to the member's role is fine.
    let down = edit_of(&writer_token, "ci", TokenRole::Reader);
    assert_eq!(
        tokens::edit(store, c, &writer_token.id, down, None)
            .await?
            .role,
        TokenRole::Reader
    );

    // Set to No access: the tokens stay visible to their member but are
    // worth nothing, and nothing can be done with them.
    set_member_role(store, &team.writer, MemberRole::NoAccess).await?;
    let locked = reload(store, &team.writer).await?;
    let c = caller(&locked);
    assert_eq!(
        effective_role(TokenKind::Personal, TokenRole::Reader, locked.role),
        None
    );
    let before = count_tokens(store).await?;
    assert!(matches!(
        tokens::clone(store, c, &reader_token.id).await,
        Err(ActionError::Forbidden(_))
    ));
    assert!(matches!(
        tokens::reset(store, c, &reader_token.id, None).await,
        Err(ActionError::Forbidden(_))
    ));
    assert!(matches!(
        tokens::delete(store, c, &reader_token.id).await,
        Err(ActionError::Forbidden(_))
    ));
    assert_eq!(count_tokens(store).await?, before);
    Ok(())
}

/// The pages ask the same rules: a few cases over HTTP, including a member
/// whose role changes while signed in.
#[tokio::test]
async fn pages_enforce_the_same_rules() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    let service = seed_token(
        store,
        &team.other,
        "svc",
        TokenKind::Service,
        TokenRole::Reader,
    )
    .await?;
    let others = seed_token(
        store,
        &team.other,
        "theirs",
        TokenKind::Personal,
        TokenRole::Reader,
    )
    .await?;
    let writers = create(
        store,
        &team.writer,
        "mine",
        TokenKind::Personal,
        TokenRole::Writer,
    )
    .await?
    .token;

    let reader = browser();
    let reader_csrf = app.sign_in(&reader, email_for(MemberRole::Reader)).await?;
    let writer = browser();
    let writer_csrf = app.sign_in(&writer, email_for(MemberRole::Writer)).await?;
    let admin = browser();
    let admin_csrf = app.sign_in(&admin, email_for(MemberRole::Admin)).await?;
    let no_access = browser();
    let no_access_csrf = app
        .sign_in(&no_access, email_for(MemberRole::NoAccess))
        .await?;

    let before = count_tokens(store).await?;
    let cases: Vec<(&str, &reqwest::Client, &str, String, StatusCode)> = vec![
        (
            "Reader clones a service token",
            &reader,
            &reader_csrf,
            format!("{TOKENS_URL}/{}/clone", service.id),
            StatusCode::FORBIDDEN,
        ),
        (
            "Reader deletes a service token",
            &reader,
            &reader_csrf,
            format!("{TOKENS_URL}/{}/delete", service.id),
            StatusCode::FORBIDDEN,
        ),
        (
            "Writer deletes another member's token",
            &writer,
            &writer_csrf,
            format!("{TOKENS_URL}/{}/delete", others.id),
            StatusCode::NOT_FOUND,
        ),
        (
            "Writer clones another member's token",
            &writer,
            &writer_csrf,
            format!("{TOKENS_URL}/{}/clone", others.id),
            StatusCode::NOT_FOUND,
        ),
        (
            "Admin clones another member's token",
            &admin,
            &admin_csrf,
            format!("{TOKENS_URL}/{}/clone", others.id),
            StatusCode::FORBIDDEN,
        ),
        (
            "No access member clones a service token",
            &no_access,
            &no_access_csrf,
            format!("{TOKENS_URL}/{}/clone", service.id),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (what, client, csrf, path, want) in &cases {
        let res = post_form(&app, client, path, &[("csrf_token", csrf)]).await?;
        assert_eq!(res.status(), *want, "{what}");
        let body = res.text().await?;
        assert!(body.contains("</html>"), "{what}: a whole page");
        assert_eq!(count_tokens(store).await?, before, "{what}: nothing stored");
    }
    // Admin resets another member's personal token, typing its name right.
    let res = post_form(
        &app,
        &admin,
        &format!("{TOKENS_URL}/{}/reset", others.id),
        &[
            ("csrf_token", &admin_csrf),
            ("grace", "now"),
            ("confirm_name", "theirs"),
        ],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "Admin resets theirs");
    assert_eq!(store.find_token(&others.id).await?.as_ref(), Some(&others));
    // …but may delete it.
    let res = post_form(
        &app,
        &admin,
        &format!("{TOKENS_URL}/{}/delete", others.id),
        &[("csrf_token", &admin_csrf)],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "Admin deletes theirs");
    assert!(store.find_token(&others.id).await?.is_none());

    // Forms for refused actions are not shown either.
    for (what, client, path, want) in [
        (
            "Reader opens the edit form of a service token",
            &reader,
            format!("{TOKENS_URL}/{}/edit", service.id),
            StatusCode::FORBIDDEN,
        ),
        (
            "Reader opens the reset form of a service token",
            &reader,
            format!("{TOKENS_URL}/{}/reset", service.id),
            StatusCode::FORBIDDEN,
        ),
        (
            "Writer opens the edit form of their own token",
            &writer,
            format!("{TOKENS_URL}/{}/edit", writers.id),
            StatusCode::OK,
        ),
        (
            "No access member opens the create form",
            &no_access,
            format!("{TOKENS_URL}/new"),
            StatusCode::FORBIDDEN,
        ),
    ] {
        let res = app.get(client, &path).await?;
        assert_eq!(res.status(), want, "{what}");
    }

    // The row menus offer only what each member may do.
    let body = app.get(&reader, HOME).await?.text().await?;
    let row = html::one_with(&body, "tr", "id", &format!("row-{}", service.id));
    assert!(
        !row.text().contains("Actions for"),
        "a Reader gets no actions on a service token: {}",
        row.inner
    );
    let body = app.get(&writer, HOME).await?.text().await?;
    let row = html::one_with(&body, "tr", "id", &format!("row-{}", writers.id));
    let items: Vec<String> = row.find("li").iter().map(|li| li.text()).collect();
    assert_eq!(
        items,
        [
            "Edit token",
            "Clone token",
            "Reset token",
            "Suspend token",
            "Delete token"
        ]
    );
    let theirs_too = seed_token(
        store,
        &team.other,
        "theirs 2",
        TokenKind::Personal,
        TokenRole::Reader,
    )
    .await?;
    let body = app
        .get(&admin, &format!("{HOME}?all=1"))
        .await?
        .text()
        .await?;
    let row = html::one_with(&body, "tr", "id", &format!("row-{}", theirs_too.id));
    let items: Vec<String> = row.find("li").iter().map(|li| li.text()).collect();
    assert_eq!(
        items,
        [
            "Edit token",
            "Suspend token",
            "View audit log",
            "Delete token"
        ],
        "Admin on theirs"
    );

    // Demoted while signed in: the next request already knows.
    set_member_role(store, &team.writer, MemberRole::Reader).await?;
    let before = count_tokens(store).await?;
    let res = post_form(
        &app,
        &writer,
        &format!("{TOKENS_URL}/{}/clone", writers.id),
        &[("csrf_token", &writer_csrf)],
    )
    .await?;
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "clone above the new role"
    );
    assert!(html::text_of(&res.text().await?).contains("above your role"));
    assert_eq!(count_tokens(store).await?, before);
    let body = app.get(&writer, HOME).await?.text().await?;
    let row = html::one_with(&body, "tr", "id", &format!("row-{}", writers.id));
    let items: Vec<String> = row.find("li").iter().map(|li| li.text()).collect();
    assert_eq!(
        items,
        ["Edit token", "Reset token", "Suspend token", "Delete token"]
    );
    Ok(())
}
