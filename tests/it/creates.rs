//! Creates asked for at the same time are written together (group commit):
//! each must come out exactly as if it had been written alone.

use latchkey::domain::secret::{self, NewSecret};
use latchkey::domain::token::{DEFAULT_API_VERSION, TokenKind, TokenRole};
use latchkey::store::{AuditActor, Member, NewToken, StoreError, TokenFields};
use latchkey::tokens;

use crate::helpers::{TestResult, now_ms};
use crate::token_support::{
    audit_for_token, caller, count_audit, count_secrets, count_tokens, create, request, spawn_team,
};

/// Sixty creates at once, of both kinds and clones among them: every one
/// is stored, audited and usable, and what each caller got back is what a
/// fresh read of the database says.
#[tokio::test]
async fn concurrent_creates_are_each_stored_audited_and_live() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    let source = create(
        store,
        &team.admin,
        "source",
        TokenKind::Service,
        TokenRole::Writer,
    )
    .await?;
    let before = count_tokens(store).await?;

    let mut tasks = Vec::new();
    for i in 0..60 {
        let store = (*store).clone();
        let admin = team.admin.clone();
        let source_id = source.token.id.clone();
        tasks.push(tokio::spawn(async move {
            match i % 3 {
                0 => tokens::clone(&store, caller(&admin), &source_id).await,
                1 => {
                    let r = request(
                        &format!("personal {i}"),
                        TokenKind::Personal,
                        TokenRole::Reader,
                    );
                    tokens::create(&store, caller(&admin), r).await
                }
                _ => {
                    let r = request(
                        &format!("service {i}"),
                        TokenKind::Service,
                        TokenRole::Admin,
                    );
                    tokens::create(&store, caller(&admin), r).await
                }
            }
        }));
    }
    let mut issued = Vec::new();
    for task in tasks {
        issued.push(task.await?.map_err(|e| anyhow::anyhow!("{e:?}"))?);
    }

    assert_eq!(count_tokens(store).await?, before + 60);
    assert_eq!(count_secrets(store).await?, before + 60);
    assert_eq!(count_audit(store, "token_cloned").await?, 20);
    let mut ids = std::collections::HashSet::new();
    for got in &issued {
        assert!(ids.insert(got.token.id.clone()), "ids are unique");
        let stored = store.find_token(&got.token.id).await?.expect("stored");
        assert_eq!(format!("{:?}", got.token), format!("{stored:?}"));
        let live = store
            .authenticate(&secret::digest(&got.secret), now_ms())
            .await?
            .expect("the new secret works at once");
        assert_eq!(live.token.id, got.token.id);
        let audit = audit_for_token(store, &got.token.id).await?;
        assert_eq!(audit.len(), 1, "one event for {}", got.token.name);
    }
    let clone_audit = audit_for_token(store, &issued[0].token.id).await?;
    assert_eq!(
        clone_audit[0].source_token_id.as_deref(),
        Some(source.token.id.as_str())
    );
    Ok(())
}

/// A create whose check fails in a batch fails alone (a clone of a token
/// that is gone, a personal token of a member who was removed): the others
/// in the same batch are written.
#[tokio::test]
async fn a_failing_create_does_not_fail_its_batch() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    store.remove_member(&team.other.id, None).await?;
    let before = count_tokens(store).await?;

    let mut tasks = Vec::new();
    for i in 0..30 {
        let store = (*store).clone();
        let (admin, removed) = (team.admin.clone(), team.other.clone());
        tasks.push(tokio::spawn(async move {
            let (owner, kind, source) = match i % 10 {
                0 => (&admin, TokenKind::Service, Some("no-such-token")),
                5 => (&removed, TokenKind::Personal, None),
                _ => (&admin, TokenKind::Service, None),
            };
            let new = new_token(&format!("batch {i}"), kind, &owner.id);
            store.create_token(&new, &actor(&admin), source).await
        }));
    }
    let (mut ok, mut gone, mut removed) = (0, 0, 0);
    for task in tasks {
        match task.await? {
            Ok(_) => ok += 1,
            Err(StoreError::NotFound) => gone += 1,
            Err(StoreError::Conflict(_)) => removed += 1,
            Err(e) => anyhow::bail!("unexpected {e:?}"),
        }
    }
    assert_eq!((ok, gone, removed), (24, 3, 3));
    assert_eq!(count_tokens(store).await?, before + 24);
    assert_eq!(count_secrets(store).await?, before + 24);
    Ok(())
}

fn new_token(name: &str, kind: TokenKind, member_id: &str) -> NewToken {
    let secret = NewSecret::generate(kind);
    NewToken {
        fields: TokenFields {
            name: name.to_string(),
            description: String::new(),
            role: TokenRole::Reader,
            api_version: DEFAULT_API_VERSION,
            expires_at: None,
        },
        kind,
        member_id: member_id.to_string(),
        digest: secret.digest(),
        last_four: secret.last_four(),
    }
}

fn actor(member: &Member) -> AuditActor {
    AuditActor {
        member_id: Some(member.id.clone()),
        token_id: None,
        label: member.email.clone(),
        client_ip: None,
    }
}
