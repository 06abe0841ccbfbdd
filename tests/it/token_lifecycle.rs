//! The token operations themselves (PRODUCT.md §3): the secret format, what
//! is stored, clone, reset with a grace period, delete, the audit trail, and
//! invalid input stored nowhere.

use std::collections::HashSet;

use latchkey::action::ActionError;
use latchkey::domain::secret::is_well_formed;
use latchkey::domain::token::{TokenKind, TokenRole};
use latchkey::store::TokenUse;
use latchkey::tokens::{self, CreateRequest, EditRequest};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::helpers::{TestResult, now_ms};
use crate::token_support::{
    TEST_IP, audit_for_token, caller, count_audit, count_secrets, count_tokens, create, request,
    secrets_of, spawn_team,
};

const HOUR_MS: i64 = 60 * 60 * 1000;
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The six-character base62 CRC32 of the first 37 characters, written out
/// again here from PRODUCT.md §3.
fn expected_checksum(body: &str) -> String {
    let mut n = u64::from(crc32fast::hash(body.as_bytes()));
    let mut out = vec![b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out).expect("ascii")
}

fn assert_secret_format(secret: &str, kind: TokenKind) {
    let prefix = match kind {
        TokenKind::Personal => "lk_pat_",
        TokenKind::Service => "lk_svc_",
    };
    assert!(secret.starts_with(prefix), "{secret} starts with {prefix}");
    assert_eq!(secret.len(), 43, "{secret}");
    assert!(
        secret[7..].bytes().all(|b| BASE62.contains(&b)),
        "base62 after the prefix: {secret}"
    );
    assert_eq!(
        &secret[37..],
        expected_checksum(&secret[..37]),
        "checksum of {secret}"
    );
    assert!(is_well_formed(secret), "{secret}");
    // One wrong character anywhere in the random part or checksum fails.
    for i in [7, 20, 36, 37, 42] {
        let mut bytes = secret.as_bytes().to_vec();
        bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
        let typo = String::from_utf8(bytes).expect("ascii");
        assert!(!is_well_formed(&typo), "typo at {i}: {typo}");
    }
    assert!(!is_well_formed(&secret[..42]));
    assert!(!is_well_formed(&format!("{secret}0")));
    assert!(!is_well_formed(&secret.to_uppercase()));
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn secrets_have_the_format_and_only_their_digest_is_stored() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    let mut issued = Vec::new();
    for kind in [TokenKind::Personal, TokenKind::Service] {
        let created = create(store, &team.admin, "fmt", kind, TokenRole::Reader).await?;
        let cloned = tokens::clone(store, caller(&team.admin), &created.token.id).await?;
        let reset = tokens::reset(store, caller(&team.admin), &created.token.id, None).await?;
        issued.push((kind, created.token, created.secret));
        issued.push((kind, cloned.token, cloned.secret));
        issued.push((kind, reset.token, reset.secret));
    }
    let distinct: HashSet<&str> = issued.iter().map(|(_, _, s)| s.as_str()).collect();
    assert_eq!(distinct.len(), issued.len(), "every secret differs");

    for (kind, token, secret) in &issued {
        assert_secret_format(secret, *kind);
        assert_eq!(token.kind, *kind);
        assert_eq!(token.last_four, secret[39..], "last four of {}", token.name);
    }
    // The current secret of each token is stored as its SHA-256 hex digest;
    // the created ones were reset (immediately) since, so theirs are gone.
    for (i, (_, token, secret)) in issued.iter().enumerate() {
        let stored = secrets_of(store, &token.id).await?;
        if i % 3 == 0 {
            assert!(
                stored.iter().all(|(d, _)| *d != sha256_hex(secret)),
                "{}: the replaced secret is gone",
                token.id
            );
        } else {
            assert_eq!(stored, [(sha256_hex(secret), None)], "{}", token.id);
        }
    }

    // No column of any token row holds a secret.
    let rows = sqlx::query("SELECT * FROM tokens")
        .fetch_all(store.sql())
        .await?;
    let mut text = String::new();
    for row in &rows {
        for i in 0..row.len() {
            if let Ok(Some(v)) = row.try_get::<Option<String>, _>(i) {
                text.push_str(&v);
                text.push('\n');
            }
        }
    }
    let rows = sqlx::query("SELECT digest FROM token_secrets")
        .fetch_all(store.sql())
        .await?;
    for row in &rows {
        let digest: String = row.try_get(0)?;
        assert_eq!(digest.len(), 64);
        assert!(
            digest
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        text.push_str(&digest);
    }
    // Nor does anything the database keeps (SQLite: its files, WAL
    // included; PostgreSQL: every row of every table) hold any part of one.
    let files = app.store.stored_bytes().await?;
    for (_, _, secret) in &issued {
        assert!(!text.contains(&secret[7..37]), "{secret} in a row");
        for (name, bytes) in &files {
            assert!(!contains(bytes, secret.as_bytes()), "{secret} in {name}");
            assert!(
                !contains(bytes, &secret.as_bytes()[7..37]),
                "the random part of {secret} in {name}"
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn clone_copies_exactly_the_right_fields() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    let expires = now_ms() + 30 * 24 * HOUR_MS;
    // A service token made by one Admin and cloned by another: the clone
    // belongs to whoever cloned it.
    let source = tokens::create(
        store,
        caller(&team.other),
        CreateRequest {
            name: "  Deploy bot  ".to_string(),
            description: "Ships the <main> branch".to_string(),
            role: TokenRole::Writer,
            kind: TokenKind::Service,
            api_version: 20220603,
            expires_at: Some(expires),
        },
    )
    .await?;
    store
        .record_token_use(&[TokenUse::at(source.token.id.clone(), now_ms() - 1000)])
        .await?;
    let source_before = store.find_token(&source.token.id).await?.expect("source");
    assert_eq!(source_before.name, "Deploy bot", "names are trimmed");

    let before = count_tokens(store).await?;
    let cloned = tokens::clone(store, caller(&team.admin), &source.token.id).await?;
    let c = &cloned.token;
    assert_eq!(count_tokens(store).await?, before + 1);
    assert_ne!(c.id, source_before.id);
    assert_eq!(c.name, "Deploy bot (copy)");
    assert_eq!(c.role, TokenRole::Writer);
    assert_eq!(c.kind, TokenKind::Service);
    assert_eq!(c.description, "Ships the <main> branch");
    assert_eq!(c.api_version, 20220603);
    // PRODUCT.md §3 lists role, kind, description and API version; the
    // expiry belongs to the original's purpose and is not copied.
    assert_eq!(c.expires_at, None);
    let _ = expires;
    assert_eq!(c.member_id, team.admin.id, "owned by the actor");
    assert_eq!(c.last_used_at, None, "a new token has not been used");
    assert!(c.created_at >= source_before.created_at);
    assert_ne!(cloned.secret, source.secret);
    assert!(cloned.secret.starts_with("lk_svc_"));
    assert_eq!(c.last_four, cloned.secret[39..]);
    let clone_secrets = secrets_of(store, &c.id).await?;
    assert_eq!(clone_secrets, [(sha256_hex(&cloned.secret), None)]);
    assert_ne!(clone_secrets, secrets_of(store, &source_before.id).await?);
    // The source is untouched, its secret included.
    assert_eq!(
        store.find_token(&source_before.id).await?.as_ref(),
        Some(&source_before)
    );
    assert_eq!(
        secrets_of(store, &source_before.id).await?,
        [(sha256_hex(&source.secret), None)]
    );
    // Audited as a clone of the source.
    let events = audit_for_token(store, &c.id).await?;
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e.action, "token_cloned");
    assert_eq!(
        e.source_token_id.as_deref(),
        Some(source_before.id.as_str())
    );
    assert_eq!(e.token_name.as_deref(), Some("Deploy bot (copy)"));
    assert_eq!(e.actor_member_id.as_deref(), Some(team.admin.id.as_str()));
    assert_eq!(e.actor_email.as_deref(), Some(team.admin.email.as_str()));
    assert_eq!(e.client_ip.as_deref(), Some(TEST_IP));

    // A personal token, cloned by its member; a clone of a clone.
    let mine = create(
        store,
        &team.writer,
        "ci",
        TokenKind::Personal,
        TokenRole::Reader,
    )
    .await?;
    let copy = tokens::clone(store, caller(&team.writer), &mine.token.id).await?;
    assert_eq!(copy.token.kind, TokenKind::Personal);
    assert!(copy.secret.starts_with("lk_pat_"));
    assert_eq!(copy.token.member_id, team.writer.id);
    let copy2 = tokens::clone(store, caller(&team.writer), &copy.token.id).await?;
    assert_eq!(copy2.token.name, "ci (copy) (copy)");

    // A long name stays within 256 characters.
    let long = "n".repeat(256);
    let t = create(
        store,
        &team.writer,
        &long,
        TokenKind::Personal,
        TokenRole::Reader,
    )
    .await?;
    let copy = tokens::clone(store, caller(&team.writer), &t.token.id).await?;
    assert_eq!(copy.token.name.chars().count(), 256);
    assert!(copy.token.name.ends_with(" (copy)"));

    // An expiry that has passed is not copied (the clone would be born dead).
    let old = create(
        store,
        &team.writer,
        "old",
        TokenKind::Personal,
        TokenRole::Reader,
    )
    .await?;
    sqlx::query("UPDATE tokens SET expires_at = $1 WHERE id = $2")
        .bind(now_ms() - HOUR_MS)
        .bind(&old.token.id)
        .execute(store.sql())
        .await?;
    let copy = tokens::clone(store, caller(&team.writer), &old.token.id).await?;
    assert_eq!(copy.token.expires_at, None);
    Ok(())
}

fn assert_near(actual: Option<i64>, expected: i64, what: &str) {
    let actual = actual.unwrap_or_else(|| panic!("{what}: no valid_until"));
    assert!(
        (actual - expected).abs() < 5_000,
        "{what}: {actual} is not about {expected}"
    );
}

#[tokio::test]
async fn reset_keeps_the_old_secret_for_the_chosen_grace_only() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    let c = caller(&team.writer);
    let first = create(
        store,
        &team.writer,
        "ci",
        TokenKind::Personal,
        TokenRole::Writer,
    )
    .await?;
    let id = first.token.id.clone();
    let d1 = sha256_hex(&first.secret);

    // Immediately: the old digest is gone at once.
    let second = tokens::reset(store, c, &id, None).await?;
    let d2 = sha256_hex(&second.secret);
    assert_ne!(second.secret, first.secret);
    assert_eq!(secrets_of(store, &id).await?, [(d2.clone(), None)]);
    assert_eq!(second.token.last_four, second.secret[39..]);
    assert!(second.token.version > first.token.version);
    assert_eq!(second.token.name, "ci", "nothing else changes");
    assert_eq!(second.token.role, TokenRole::Writer);

    // With a grace: the old one works until then, the new one for good.
    let until = now_ms() + HOUR_MS;
    let third = tokens::reset(store, c, &id, Some(until)).await?;
    let d3 = sha256_hex(&third.secret);
    let stored = secrets_of(store, &id).await?;
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert_eq!(stored[0], (d3.clone(), None));
    assert_eq!(stored[1].0, d2);
    assert_near(stored[1].1, until, "1 hour grace");

    // A second reset during the grace: the older secret keeps its own end,
    // the one just replaced gets the new grace.
    let later = now_ms() + 7 * 24 * HOUR_MS;
    let fourth = tokens::reset(store, c, &id, Some(later)).await?;
    let d4 = sha256_hex(&fourth.secret);
    let stored = secrets_of(store, &id).await?;
    assert_eq!(stored.len(), 3, "{stored:?}");
    assert_eq!(stored[0], (d4.clone(), None));
    assert_eq!(stored[1].0, d2);
    assert_near(stored[1].1, until, "the older grace is kept");
    assert_eq!(stored[2].0, d3);
    assert_near(stored[2].1, later, "7 days grace");

    // A grace already in the past means immediately, for every old secret.
    let fifth = tokens::reset(store, c, &id, Some(now_ms() - 1)).await?;
    assert_eq!(
        secrets_of(store, &id).await?,
        [(sha256_hex(&fifth.secret), None)]
    );
    assert!(!secrets_of(store, &id).await?.iter().any(|(d, _)| d == &d1));

    // Each reset is audited, with who and from where.
    let events = audit_for_token(store, &id).await?;
    let resets: Vec<_> = events
        .iter()
        .filter(|e| e.action == "token_reset")
        .collect();
    assert_eq!(resets.len(), 4, "{events:?}");
    for e in resets {
        assert_eq!(e.actor_member_id.as_deref(), Some(team.writer.id.as_str()));
        assert_eq!(e.token_name.as_deref(), Some("ci"));
        assert_eq!(e.client_ip.as_deref(), Some(TEST_IP));
    }
    Ok(())
}

#[tokio::test]
async fn delete_is_permanent_and_a_second_delete_is_not_found() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    let c = caller(&team.admin);
    let t = create(
        store,
        &team.admin,
        "gone",
        TokenKind::Service,
        TokenRole::Admin,
    )
    .await?;
    tokens::reset(store, c, &t.token.id, Some(now_ms() + HOUR_MS)).await?;
    assert_eq!(secrets_of(store, &t.token.id).await?.len(), 2);

    let deleted = tokens::delete(store, c, &t.token.id).await?;
    assert_eq!(deleted.id, t.token.id);
    assert!(store.find_token(&t.token.id).await?.is_none());
    assert!(
        secrets_of(store, &t.token.id).await?.is_empty(),
        "secrets in their grace period go too"
    );
    assert!(matches!(
        tokens::get(store, c, &t.token.id).await,
        Err(ActionError::NotFound)
    ));
    assert!(matches!(
        tokens::delete(store, c, &t.token.id).await,
        Err(ActionError::NotFound)
    ));
    assert!(matches!(
        tokens::clone(store, c, &t.token.id).await,
        Err(ActionError::NotFound)
    ));
    assert!(matches!(
        tokens::reset(store, c, &t.token.id, None).await,
        Err(ActionError::NotFound)
    ));
    assert_eq!(count_audit(store, "token_deleted").await?, 1);
    Ok(())
}

#[tokio::test]
async fn concurrent_deletes_let_exactly_one_succeed() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    for round in 0..5 {
        let t = create(
            store,
            &team.owner,
            "race",
            TokenKind::Service,
            TokenRole::Reader,
        )
        .await?;
        let id = t.token.id.as_str();
        let (a, b) = tokio::join!(
            tokens::delete(store, caller(&team.owner), id),
            tokens::delete(store, caller(&team.admin), id),
        );
        let oks = [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count();
        assert_eq!(oks, 1, "round {round}: {:?} / {:?}", a.err(), b.err());
        for r in [a, b] {
            assert!(
                matches!(r, Ok(_) | Err(ActionError::NotFound)),
                "round {round}: the loser is NotFound"
            );
        }
        let events = audit_for_token(store, id).await?;
        let deletes = events
            .iter()
            .filter(|e| e.action == "token_deleted")
            .count();
        assert_eq!(deletes, 1, "round {round}: one delete audited");
    }
    // Four at once.
    let t = create(
        store,
        &team.owner,
        "race",
        TokenKind::Service,
        TokenRole::Reader,
    )
    .await?;
    let id = t.token.id.as_str();
    let c = caller(&team.owner);
    let (a, b, d, e) = tokio::join!(
        tokens::delete(store, c, id),
        tokens::delete(store, c, id),
        tokens::delete(store, c, id),
        tokens::delete(store, c, id),
    );
    let results = [a, b, d, e];
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(_) | Err(ActionError::NotFound)))
    );
    Ok(())
}

#[tokio::test]
async fn every_change_is_audited_with_actor_token_and_ip() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    let c = caller(&team.admin);
    let created = create(
        store,
        &team.admin,
        "audited",
        TokenKind::Personal,
        TokenRole::Reader,
    )
    .await?
    .token;
    let cloned = tokens::clone(store, c, &created.id).await?.token;
    let edited = tokens::edit(
        store,
        c,
        &created.id,
        EditRequest {
            name: "audited, renamed".to_string(),
            description: "now described".to_string(),
            role: TokenRole::Writer,
            api_version: created.api_version,
            expires_at: None,
        },
        Some(created.version),
    )
    .await?;
    assert_eq!(edited.name, "audited, renamed");
    tokens::reset(store, c, &created.id, None).await?;
    tokens::delete(store, c, &created.id).await?;

    let events = audit_for_token(store, &created.id).await?;
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "token_created",
            "token_updated",
            "token_reset",
            "token_deleted"
        ]
    );
    let names: Vec<&str> = events
        .iter()
        .map(|e| e.token_name.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        [
            "audited",
            "audited, renamed",
            "audited, renamed",
            "audited, renamed"
        ]
    );
    let started = created.created_at;
    for e in &events {
        assert_eq!(e.token_id.as_deref(), Some(created.id.as_str()));
        assert_eq!(e.actor_member_id.as_deref(), Some(team.admin.id.as_str()));
        assert_eq!(e.actor_email.as_deref(), Some(team.admin.email.as_str()));
        assert_eq!(e.client_ip.as_deref(), Some(TEST_IP));
        assert_eq!(e.source_token_id, None);
        assert!(e.occurred_at >= started && e.occurred_at <= now_ms());
    }
    let events = audit_for_token(store, &cloned.id).await?;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, "token_cloned");
    assert_eq!(
        events[0].source_token_id.as_deref(),
        Some(created.id.as_str())
    );

    // An edit that changes nothing, and refused or invalid requests, write
    // no event.
    let before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events")
        .fetch_one(store.sql())
        .await?;
    let same = tokens::edit(
        store,
        c,
        &cloned.id,
        EditRequest {
            name: cloned.name.clone(),
            description: cloned.description.clone(),
            role: cloned.role,
            api_version: cloned.api_version,
            expires_at: cloned.expires_at,
        },
        None,
    )
    .await?;
    assert_eq!(same.version, cloned.version);
    let _ = tokens::clone(store, caller(&team.reader), &cloned.id).await;
    let _ = tokens::delete(store, caller(&team.writer), &cloned.id).await;
    let _ = tokens::create(
        store,
        caller(&team.reader),
        request("", TokenKind::Personal, TokenRole::Reader),
    )
    .await;
    let after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events")
        .fetch_one(store.sql())
        .await?;
    assert_eq!(after, before);
    Ok(())
}

fn invalid_fields<T>(result: Result<T, ActionError>) -> Vec<&'static str> {
    match result {
        Err(ActionError::Invalid(errors)) => {
            assert!(errors.iter().all(|e| !e.message.is_empty()));
            errors.iter().map(|e| e.field).collect()
        }
        Err(other) => panic!("expected Invalid, got {other:?}"),
        Ok(_) => panic!("expected Invalid, got Ok"),
    }
}

#[tokio::test]
async fn invalid_input_is_refused_and_nothing_is_stored() -> TestResult {
    let (app, team) = spawn_team().await?;
    let store = &app.store;
    let c = caller(&team.owner);
    let existing = create(
        store,
        &team.owner,
        "keep",
        TokenKind::Personal,
        TokenRole::Reader,
    )
    .await?
    .token;
    let base = CreateRequest {
        name: "ok".to_string(),
        description: String::new(),
        role: TokenRole::Reader,
        kind: TokenKind::Personal,
        api_version: 20240415,
        expires_at: None,
    };
    let name_257 = "x".repeat(257);
    let description_1001 = "d".repeat(1001);
    let cases: Vec<(&str, CreateRequest, &[&str])> = vec![
        (
            "empty name",
            CreateRequest {
                name: String::new(),
                ..base.clone()
            },
            &["name"],
        ),
        (
            "whitespace name",
            CreateRequest {
                name: " \t ".to_string(),
                ..base.clone()
            },
            &["name"],
        ),
        (
            "257-character name",
            CreateRequest {
                name: name_257.clone(),
                ..base.clone()
            },
            &["name"],
        ),
        (
            "name with a line break",
            CreateRequest {
                name: "a\nb".to_string(),
                ..base.clone()
            },
            &["name"],
        ),
        (
            "1001-character description",
            CreateRequest {
                description: description_1001.clone(),
                ..base.clone()
            },
            &["description"],
        ),
        (
            "unknown API version",
            CreateRequest {
                api_version: 20200101,
                ..base.clone()
            },
            &["api_version"],
        ),
        (
            "expiry in the past",
            CreateRequest {
                expires_at: Some(now_ms() - 1000),
                ..base.clone()
            },
            &["expires"],
        ),
        (
            "everything wrong at once",
            CreateRequest {
                name: String::new(),
                description: description_1001.clone(),
                api_version: 1,
                expires_at: Some(0),
                ..base.clone()
            },
            &["name", "description", "api_version", "expires"],
        ),
    ];
    let tokens_before = count_tokens(store).await?;
    let secrets_before = count_secrets(store).await?;
    for (what, req, fields) in cases {
        let got = invalid_fields(tokens::create(store, c, req.clone()).await);
        assert_eq!(got, fields, "create with {what}");
        let edit = EditRequest {
            name: req.name,
            description: req.description,
            role: req.role,
            api_version: req.api_version,
            expires_at: req.expires_at,
        };
        let got = invalid_fields(tokens::edit(store, c, &existing.id, edit, None).await);
        assert_eq!(got, fields, "edit with {what}");
    }
    assert_eq!(count_tokens(store).await?, tokens_before);
    assert_eq!(count_secrets(store).await?, secrets_before);
    assert_eq!(count_audit(store, "token_created").await?, 1);
    assert_eq!(count_audit(store, "token_updated").await?, 0);
    assert_eq!(
        store.find_token(&existing.id).await?.as_ref(),
        Some(&existing)
    );

    // The limits themselves are fine: 256 characters (after trimming) and a
    // 1000-character description.
    let name_256 = format!("  {}  ", "é".repeat(256));
    let ok = tokens::create(
        store,
        c,
        CreateRequest {
            name: name_256,
            description: "d".repeat(1000),
            ..base.clone()
        },
    )
    .await?;
    assert_eq!(ok.token.name, "é".repeat(256));

    // Malformed and unknown ids are simply not found.
    let unknown = "0123456789abcdef01234567";
    for id in [
        "",
        "nope",
        "../x",
        "ZZZZZZZZZZZZZZZZZZZZZZZZ",
        unknown,
        &existing.id.to_uppercase(),
    ] {
        assert!(
            matches!(tokens::get(store, c, id).await, Err(ActionError::NotFound)),
            "get {id:?}"
        );
        assert!(
            matches!(
                tokens::clone(store, c, id).await,
                Err(ActionError::NotFound)
            ),
            "clone {id:?}"
        );
        assert!(
            matches!(
                tokens::reset(store, c, id, None).await,
                Err(ActionError::NotFound)
            ),
            "reset {id:?}"
        );
        assert!(
            matches!(
                tokens::delete(store, c, id).await,
                Err(ActionError::NotFound)
            ),
            "delete {id:?}"
        );
    }
    Ok(())
}
