//! Two Latchkey instances on one PostgreSQL database behave as one: shared
//! sessions, a change through either is seen by the other on the very next
//! request, and concurrent changes through both end with one winner and an
//! audit log that says exactly what happened.
//!
//! SQLite serves from one process: on its pass a second instance must be
//! refused, and "both instances" are two handles on the one server, so the
//! same races still run (within one process) and the command line still
//! has to reach it.

use std::sync::Arc;

use anyhow::{Context, ensure};
use latchkey::domain::MemberRole;
use latchkey::domain::token::{TokenKind, TokenRole};
use latchkey::store::{BackendKind, TokenUse};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_helpers::{ApiApp, Members, sid, spawn_api};
use tokio::task::JoinSet;

use crate::helpers::{HOME, OWNER_EMAIL, TestResult, browser, launch, spawn_app};

/// Instance A (with the team) and instance B on the same database; on
/// SQLite, B is A again (and a real second instance is refused).
pub(crate) async fn two_instances() -> anyhow::Result<(ApiApp, ApiApp, Members)> {
    let (a, members) = spawn_api().await?;
    let b = match crate::db::backend() {
        BackendKind::Postgres => ApiApp::from(launch(Arc::clone(&a.db.db), &[]).await?),
        BackendKind::Sqlite => {
            second_sqlite_instance_is_refused(&a).await?;
            a.another_handle()
        }
    };
    Ok((a, b, members))
}

async fn second_sqlite_instance_is_refused(a: &ApiApp) -> TestResult {
    let refused = match launch(Arc::clone(&a.db.db), &[]).await {
        Ok(_) => anyhow::bail!("a second instance started on one SQLite file"),
        Err(e) => format!("{e:#}"),
    };
    ensure!(
        refused.contains("already serving") && refused.contains("PostgreSQL"),
        "the refusal says why and what to do instead: {refused}"
    );
    Ok(())
}

async fn audit_count(app: &ApiApp, action: &str, token_id: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = $1 AND (token_id = $2 OR source_token_id = $2)",
    )
    .bind(action)
    .bind(token_id)
    .fetch_one(app.db.sql())
    .await?)
}

#[tokio::test]
async fn a_session_started_on_one_instance_works_and_ends_on_the_other() -> TestResult {
    let a = spawn_app().await?;
    if crate::db::backend() == BackendKind::Sqlite {
        return second_sqlite_instance_is_refused(&ApiApp::from(a)).await;
    }
    let b = launch(Arc::clone(&a.store.db), &[]).await?;
    // Cookies are not port-specific: the one jar talks to both, as a
    // browser behind a load balancer would.
    let client = browser();
    a.sign_in(&client, OWNER_EMAIL).await?;
    ensure!(b.is_signed_in(&client).await?, "signed in on A, not on B");
    // Sign out through B; A no longer knows the session either.
    let res = b.get(&client, HOME).await?;
    let csrf = crate::html::input_value(&res.text().await?, "csrf_token").unwrap_or_default();
    let res = client
        .post(b.url("/logout"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await?;
    ensure!(
        res.status() == StatusCode::SEE_OTHER,
        "sign-out: {}",
        res.status()
    );
    ensure!(
        !a.is_signed_in(&client).await?,
        "signed out on B, still in on A"
    );
    Ok(())
}

#[tokio::test]
async fn created_on_one_instance_works_on_the_other_and_a_delete_is_401_at_once() -> TestResult {
    let (a, b, m) = two_instances().await?;
    let admin = a
        .issue(&m.owner, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    b.identity(&admin.secret).await?;
    // Every round: create through A's API, use through B, delete through
    // A, and B must refuse the very next request. 200 rounds give a window
    // between A's answer and B learning of it many chances to show.
    for round in 0..200 {
        let created = a
            .post_json(
                "tokens",
                &admin.secret,
                &json!({"name": format!("round {round}"), "role": "reader", "serviceToken": true}),
            )
            .await?
            .expect(StatusCode::CREATED)?;
        let secret = created["token"].as_str().context("secret")?.to_string();
        let id = created["_id"].as_str().context("id")?.to_string();
        let seen = b.identity(&secret).await?;
        ensure!(
            seen["tokenId"] == id.as_str(),
            "round {round}: B sees {seen}"
        );
        a.delete(&format!("tokens/{id}"), &admin.secret)
            .await?
            .expect(StatusCode::NO_CONTENT)?;
        // 401, or once this client has failed often enough, 429: refused
        // either way, never accepted.
        let after = b.get("caller-identity", &secret).await?;
        ensure!(
            matches!(
                after.status,
                StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS
            ),
            "round {round}: a secret deleted through A answered {} on B",
            after.status
        );
    }
    Ok(())
}

#[tokio::test]
async fn resets_role_changes_and_removals_reach_the_other_instance_at_once() -> TestResult {
    let (a, b, m) = two_instances().await?;
    let admin = a
        .issue(&m.owner, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    // Reset to expire at once through A: the old secret is 401 on B.
    let (old, id) = sid(&a
        .issue(&m.admin, "rotated", TokenKind::Service, TokenRole::Reader)
        .await?);
    b.identity(&old).await?;
    let new = a
        .post(&format!("tokens/{id}/reset"), &admin.secret)
        .await?
        .expect(StatusCode::OK)?;
    b.get("caller-identity", &old)
        .await?
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;
    b.identity(new["token"].as_str().context("new secret")?)
        .await?;

    // A member demoted through A: their token acts with the new role on B.
    let writer = a
        .issue(
            &m.writer,
            "writer's",
            TokenKind::Personal,
            TokenRole::Writer,
        )
        .await?;
    ensure!(b.identity(&writer.secret).await?["role"] == "writer");
    a.store()
        .set_member_role(&m.writer.id, MemberRole::Reader, None)
        .await?;
    ensure!(b.identity(&writer.secret).await?["role"] == "reader");
    // …and to No access: 401.
    a.store()
        .set_member_role(&m.writer.id, MemberRole::NoAccess, None)
        .await?;
    b.get("caller-identity", &writer.secret)
        .await?
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;

    // A member removed through A: every personal token is 401 on B, and
    // the service token they created keeps working.
    let personal = a
        .issue(&m.other, "other's", TokenKind::Personal, TokenRole::Admin)
        .await?;
    let service = a
        .issue(&m.other, "org's", TokenKind::Service, TokenRole::Reader)
        .await?;
    b.identity(&personal.secret).await?;
    let (_, stopped) = a.store().remove_member(&m.other.id, None).await?;
    ensure!(stopped == 1, "{stopped} tokens stopped");
    b.get("caller-identity", &personal.secret)
        .await?
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;
    b.identity(&service.secret).await?;
    Ok(())
}

#[tokio::test]
async fn concurrent_deletes_through_both_instances_have_one_winner() -> TestResult {
    let (a, b, m) = two_instances().await?;
    let (a, b) = (Arc::new(a), Arc::new(b));
    let admin = a
        .issue(&m.owner, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    for round in 0..10 {
        let (secret, id) = sid(&a
            .issue(
                &m.admin,
                &format!("contested {round}"),
                TokenKind::Service,
                TokenRole::Reader,
            )
            .await?);
        let mut racers = JoinSet::new();
        for i in 0..8 {
            let app = Arc::clone(if i % 2 == 0 { &a } else { &b });
            let (path, auth) = (format!("tokens/{id}"), admin.secret.clone());
            racers.spawn(async move { app.delete(&path, &auth).await.map(|r| r.status) });
        }
        let mut statuses = Vec::new();
        while let Some(done) = racers.join_next().await {
            statuses.push(done??);
        }
        let won = statuses
            .iter()
            .filter(|s| **s == StatusCode::NO_CONTENT)
            .count();
        let lost = statuses
            .iter()
            .filter(|s| **s == StatusCode::NOT_FOUND)
            .count();
        ensure!(won == 1 && lost == 7, "round {round}: {statuses:?}");
        ensure!(
            audit_count(&a, "token_deleted", &id).await? == 1,
            "round {round}: one delete, one audit event"
        );
        for app in [&a, &b] {
            app.get("caller-identity", &secret)
                .await?
                .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_clone_racing_a_delete_and_two_edits_end_consistent() -> TestResult {
    let (a, b, m) = two_instances().await?;
    let admin = a
        .issue(&m.owner, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    for round in 0..10 {
        let (_, id) = sid(&a
            .issue(
                &m.admin,
                &format!("source {round}"),
                TokenKind::Service,
                TokenRole::Reader,
            )
            .await?);
        let (clone_path, path) = (format!("tokens/{id}/clone"), format!("tokens/{id}"));
        let (clone, delete) = tokio::join!(
            a.post(&clone_path, &admin.secret),
            b.delete(&path, &admin.secret),
        );
        let (clone, delete) = (clone?, delete?);
        ensure!(
            delete.status == StatusCode::NO_CONTENT,
            "round {round}: delete {}",
            delete.status
        );
        let cloned = match clone.status {
            StatusCode::CREATED => 1,
            StatusCode::NOT_FOUND => 0,
            other => anyhow::bail!("round {round}: clone answered {other}: {}", clone.text()),
        };
        ensure!(
            audit_count(&a, "token_cloned", &id).await? == cloned,
            "round {round}: the audit log says a clone happened only if it did"
        );
        if cloned == 1 {
            // The clone exists and works on both instances.
            let secret = clone.json()?["token"]
                .as_str()
                .context("secret")?
                .to_string();
            a.identity(&secret).await?;
            b.identity(&secret).await?;
        }
    }

    // Two edits from the same version through both instances: one wins,
    // the other is told it lost (409), and only the winner is audited.
    for round in 0..10 {
        let (_, id) = sid(&a
            .issue(
                &m.admin,
                &format!("edited {round}"),
                TokenKind::Service,
                TokenRole::Reader,
            )
            .await?);
        let path = format!("tokens/{id}");
        let rename = |name: String| json!([{"op": "replace", "path": "/name", "value": name}]);
        let (by_a, by_b) = (
            rename(format!("by A {round}")),
            rename(format!("by B {round}")),
        );
        let (first, second) = tokio::join!(
            a.patch(&path, &admin.secret, &by_a),
            b.patch(&path, &admin.secret, &by_b),
        );
        let replies = [first?, second?];
        let won = replies
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .count();
        let conflicts = replies
            .iter()
            .filter(|r| r.status == StatusCode::CONFLICT)
            .count();
        ensure!(
            won >= 1 && won + conflicts == 2,
            "round {round}: {:?}",
            replies.iter().map(|r| r.status).collect::<Vec<_>>()
        );
        ensure!(
            audit_count(&a, "token_updated", &id).await? == won as i64,
            "round {round}: one audit event per edit that happened"
        );
        let now = a.get(&path, &admin.secret).await?.expect(StatusCode::OK)?;
        let winner_names: Vec<Value> = replies
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .map(|r| r.json().map(|j| j["name"].clone()))
            .collect::<anyhow::Result<_>>()?;
        ensure!(
            winner_names.contains(&now["name"]),
            "round {round}: stored name {} is one a winner set",
            now["name"]
        );
    }
    Ok(())
}

#[tokio::test]
async fn the_command_line_changes_members_on_running_instances_at_once() -> TestResult {
    let (a, b, m) = two_instances().await?;
    let writer = a
        .issue(
            &m.writer,
            "writer's",
            TokenKind::Personal,
            TokenRole::Writer,
        )
        .await?;
    let reader = a
        .issue(
            &m.reader,
            "reader's",
            TokenKind::Personal,
            TokenRole::Reader,
        )
        .await?;
    for app in [&a, &b] {
        ensure!(app.identity(&writer.secret).await?["role"] == "writer");
    }
    let said = latchkey_cli(
        &a.db.db.url,
        &[
            "member",
            "set-role",
            "--email",
            crate::api_helpers::WRITER,
            "--role",
            "reader",
        ],
    )
    .await?;
    for app in [&a, &b] {
        ensure!(
            app.identity(&writer.secret).await?["role"] == "reader",
            "set-role from the command line reached {} ({said})",
            app.addr
        );
    }
    let said = latchkey_cli(
        &a.db.db.url,
        &["member", "remove", "--email", crate::api_helpers::READER],
    )
    .await?;
    ensure!(said.contains("1 personal token deleted"), "{said}");
    let confirmation = match crate::db::backend() {
        BackendKind::Sqlite => "The running server applied it.",
        BackendKind::Postgres => "Every running instance applies it on its next request.",
    };
    ensure!(said.contains(confirmation), "{said}");
    for app in [&a, &b] {
        app.get("caller-identity", &reader.secret)
            .await?
            .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;
    }
    // The last Owner stays.
    let refused = tokio::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args([
            "member",
            "remove",
            "--database",
            &a.db.db.url,
            "--email",
            crate::api_helpers::OWNER,
        ])
        .output()
        .await?;
    ensure!(
        !refused.status.success(),
        "removing the only Owner succeeded"
    );
    ensure!(
        String::from_utf8_lossy(&refused.stderr).contains("only Owner"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    Ok(())
}

/// Runs `latchkey ARGS --database URL`, which must succeed; its stdout.
/// (Without blocking the runtime: the servers under test run on it, and
/// the command waits for them.)
async fn latchkey_cli(url: &str, args: &[&str]) -> anyhow::Result<String> {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_latchkey"));
    command.args(args).args(["--database", url]);
    let out = command.output().await.context("running latchkey")?;
    ensure!(
        out.status.success(),
        "latchkey {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Every connection to the test's database, killed from outside it (on the
/// server's own database).
async fn terminate_connections(admin: &sqlx::AnyPool, database: &str) -> anyhow::Result<()> {
    sqlx::query(
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(database)
    .execute(admin)
    .await?;
    Ok(())
}

/// PostgreSQL goes away under two running instances (its connections are
/// terminated and new ones refused), then comes back: meanwhile every
/// request gets 503 (the API's `unavailable` body with Retry-After, a page
/// for the pages), /healthz says so, no revoked secret is accepted at any
/// point, and both instances recover without a restart. SQLite has no
/// server to lose; its pass checks nothing here.
#[tokio::test]
async fn losing_postgres_is_503_until_it_returns_and_never_accepts_a_revoked_secret() -> TestResult
{
    if crate::db::backend() != BackendKind::Postgres {
        return Ok(());
    }
    let (a, b, m) = two_instances().await?;
    let database = a.db.db.name.clone().context("a PostgreSQL database name")?;
    let admin_pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&crate::db::postgres_server()?)
        .await?;
    let admin = a
        .issue(&m.owner, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    let valid = a
        .issue(&m.admin, "valid", TokenKind::Service, TokenRole::Reader)
        .await?;
    let (revoked, revoked_id) = sid(&a
        .issue(&m.admin, "revoked", TokenKind::Service, TokenRole::Reader)
        .await?);
    a.delete(&format!("tokens/{revoked_id}"), &admin.secret)
        .await?
        .expect(StatusCode::NO_CONTENT)?;

    let refused = |status: StatusCode| {
        matches!(
            status,
            StatusCode::UNAUTHORIZED
                | StatusCode::TOO_MANY_REQUESTS
                | StatusCode::SERVICE_UNAVAILABLE
        )
    };

    // Phase 1: connections killed, new ones refused.
    sqlx::query(&format!(
        "ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS false"
    ))
    .execute(&admin_pool)
    .await?;
    terminate_connections(&admin_pool, &database).await?;
    let mut saw = [false; 2];
    let mut saw_health = [false; 2];
    let outage = std::time::Instant::now();
    while outage.elapsed() < std::time::Duration::from_secs(3) {
        for (i, app) in [&a, &b].into_iter().enumerate() {
            let r = app.get("caller-identity", &revoked).await?;
            ensure!(
                refused(r.status),
                "revoked secret answered {} while down",
                r.status
            );
            let r = app.get("caller-identity", &valid.secret).await?;
            if r.status == StatusCode::SERVICE_UNAVAILABLE {
                r.expect_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable")?;
                ensure!(r.header("retry-after").is_some(), "503 without Retry-After");
                saw[i] = true;
            }
            let health = app.client.get(app.url("/healthz")).send().await?;
            if health.status() == StatusCode::SERVICE_UNAVAILABLE {
                saw_health[i] = true;
            }
        }
        if saw.iter().all(|s| *s) && saw_health.iter().all(|s| *s) {
            break;
        }
    }
    ensure!(
        saw == [true, true],
        "both instances answered 503 while down: {saw:?}"
    );
    ensure!(
        saw_health == [true, true],
        "/healthz said so on both: {saw_health:?}"
    );
    // A write while down is a 503 too, and changes nothing.
    a.delete(&format!("tokens/{}", valid.token.id), &admin.secret)
        .await?
        .expect_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable")?;
    // The pages say so with a page.
    let page = a.client.get(a.url("/login")).send().await?;
    ensure!(
        page.status() == StatusCode::SERVICE_UNAVAILABLE,
        "sign-in page: {}",
        page.status()
    );
    let text = page.text().await?;
    ensure!(text.contains("cannot reach its database"), "{text}");

    // Back: both recover by themselves.
    sqlx::query(&format!(
        "ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS true"
    ))
    .execute(&admin_pool)
    .await?;
    for app in [&a, &b] {
        let back = std::time::Instant::now();
        loop {
            let r = app.get("caller-identity", &valid.secret).await?;
            if r.status == StatusCode::OK {
                break;
            }
            ensure!(
                back.elapsed() < std::time::Duration::from_secs(20),
                "{} did not recover: {}",
                app.addr,
                r.status
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let health = app.client.get(app.url("/healthz")).send().await?;
        ensure!(
            health.status() == StatusCode::OK,
            "/healthz after recovery: {}",
            health.status()
        );
        app.get("caller-identity", &revoked)
            .await?
            .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;
    }

    // Phase 2: connections killed, a revocation through A at once while B
    // reconnects; B must never accept the secret (it reloads everything
    // after it reconnects, and cannot answer before).
    for round in 0..5 {
        let (secret, id) = sid(&a
            .issue(
                &m.admin,
                &format!("killed {round}"),
                TokenKind::Service,
                TokenRole::Reader,
            )
            .await?);
        b.identity(&secret).await?;
        terminate_connections(&admin_pool, &database).await?;
        let deleted = std::time::Instant::now();
        loop {
            let r = a.delete(&format!("tokens/{id}"), &admin.secret).await?;
            match r.status {
                StatusCode::NO_CONTENT => break,
                StatusCode::SERVICE_UNAVAILABLE => {}
                other => anyhow::bail!("round {round}: delete answered {other}"),
            }
            ensure!(
                deleted.elapsed() < std::time::Duration::from_secs(20),
                "delete never went through"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let r = b.get("caller-identity", &secret).await?;
        ensure!(
            refused(r.status),
            "round {round}: B accepted a deleted secret: {}",
            r.status
        );
    }
    admin_pool.close().await;
    Ok(())
}

/// Two instances that start at once on a fresh PostgreSQL database take
/// turns migrating and both serve. (SQLite: one of two is refused.)
#[tokio::test]
async fn two_instances_starting_at_once_both_serve() -> TestResult {
    let db = Arc::new(crate::db::TestDb::new().await?);
    let (a, b) = tokio::join!(launch(Arc::clone(&db), &[]), launch(Arc::clone(&db), &[]));
    match crate::db::backend() {
        BackendKind::Postgres => {
            for app in [a?, b?] {
                let health = browser().get(app.url("/healthz")).send().await?;
                ensure!(health.status() == StatusCode::OK, "{}", health.status());
            }
        }
        BackendKind::Sqlite => {
            ensure!(a.is_ok() != b.is_ok(), "exactly one SQLite server starts");
        }
    }
    Ok(())
}

/// An expiry set through A holds on B, and "last used" noted by both
/// instances merges to the latest time.
#[tokio::test]
async fn expiry_and_last_used_agree_across_instances() -> TestResult {
    let (a, b, m) = two_instances().await?;
    let admin = a
        .issue(&m.owner, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    let (secret, id) = sid(&a
        .issue(
            &m.admin,
            "short-lived",
            TokenKind::Service,
            TokenRole::Reader,
        )
        .await?);
    let soon = a.now_ms() + 60_000;
    a.patch(
        &format!("tokens/{id}"),
        &admin.secret,
        &json!([{"op": "replace", "path": "/expires", "value": soon}]),
    )
    .await?
    .expect(StatusCode::OK)?;
    b.identity(&secret).await?;
    // A minute on, by B's own clock: B refuses it (on SQLite, B is A).
    b.advance(std::time::Duration::from_secs(61));
    b.get("caller-identity", &secret)
        .await?
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;

    // Uses noted by each instance, flushed in any order: the latest wins.
    let t = a.now_ms();
    a.store()
        .record_token_use(&[TokenUse::at(id.clone(), t + 5)])
        .await?;
    b.store()
        .record_token_use(&[TokenUse::at(id.clone(), t + 1)])
        .await?;
    let read = a
        .get(&format!("tokens/{id}"), &admin.secret)
        .await?
        .expect(StatusCode::OK)?;
    ensure!(
        read["lastUsed"] == t + 5,
        "an older batch does not win: {read}"
    );
    b.store()
        .record_token_use(&[TokenUse::at(id.clone(), t + 9)])
        .await?;
    let read = b
        .get(&format!("tokens/{id}"), &admin.secret)
        .await?
        .expect(StatusCode::OK)?;
    ensure!(read["lastUsed"] == t + 9, "a newer batch does: {read}");
    Ok(())
}

/// Member changes racing through both instances: two Owners demoted at
/// once leave one (the other is refused, never a 500 or a deadlock); a
/// removal racing a delete of one of the member's tokens, or a create for
/// that member, ends with the token gone and audited once.
#[tokio::test]
async fn member_changes_racing_through_both_instances_stay_consistent() -> TestResult {
    let (a, b, m) = two_instances().await?;
    let second = a
        .store()
        .create_member(
            "second-owner@example.com",
            MemberRole::Owner,
            &crate::helpers::PASSWORD_HASH,
            None,
        )
        .await?;
    for round in 0..5 {
        let (first, other) = tokio::join!(
            a.store()
                .set_member_role(&m.owner.id, MemberRole::Admin, None),
            b.store()
                .set_member_role(&second.id, MemberRole::Admin, None),
        );
        let outcomes = [first.is_ok(), other.is_ok()];
        ensure!(
            outcomes.iter().filter(|ok| **ok).count() == 1,
            "round {round}: exactly one demotion wins: {outcomes:?}"
        );
        for result in [first, other] {
            if let Err(e) = result {
                ensure!(
                    matches!(e, latchkey::store::StoreError::Conflict(_)),
                    "round {round}: the loser is told why, not an error: {e:?}"
                );
            }
        }
        // Back to two Owners for the next round.
        for id in [&m.owner.id, &second.id] {
            a.store()
                .set_member_role(id, MemberRole::Owner, None)
                .await?;
        }
    }

    let admin = a
        .issue(&m.owner, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    for round in 0..5 {
        let email = format!("leaving-{round}@example.com");
        let leaving = a
            .store()
            .create_member(
                &email,
                MemberRole::Writer,
                &crate::helpers::PASSWORD_HASH,
                None,
            )
            .await?;
        let (secret, id) = sid(&a
            .issue(&leaving, "theirs", TokenKind::Personal, TokenRole::Reader)
            .await?);
        let path = format!("tokens/{id}");
        let (removed, deleted) = tokio::join!(
            a.store().remove_member(&leaving.id, None),
            b.delete(&path, &admin.secret),
        );
        let (_, stopped) = removed?;
        let deleted = deleted?;
        ensure!(
            matches!(
                deleted.status,
                StatusCode::NO_CONTENT | StatusCode::NOT_FOUND
            ),
            "round {round}: delete answered {}",
            deleted.status
        );
        let by_delete = usize::from(deleted.status == StatusCode::NO_CONTENT);
        ensure!(
            stopped + by_delete == 1,
            "round {round}: one of them deleted it (removal {stopped}, delete {by_delete})"
        );
        ensure!(
            audit_count(&a, "token_deleted", &id).await? == 1,
            "round {round}: the token's deletion is audited once"
        );
        for app in [&a, &b] {
            app.get("caller-identity", &secret)
                .await?
                .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;
        }

        // A create for a member being removed: refused, or removed with them.
        let email = format!("going-{round}@example.com");
        let going = a
            .store()
            .create_member(
                &email,
                MemberRole::Writer,
                &crate::helpers::PASSWORD_HASH,
                None,
            )
            .await?;
        let (removed, created) = tokio::join!(
            a.store().remove_member(&going.id, None),
            latchkey::tokens::create(
                b.store(),
                crate::api_helpers::caller(&going),
                crate::api_helpers::create_request("late", TokenKind::Personal, TokenRole::Reader),
            ),
        );
        removed?;
        if let Err(e) = created {
            ensure!(
                matches!(e, latchkey::action::ActionError::Conflict(_)),
                "round {round}: the late create is refused, not an error: {e:?}"
            );
        }
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens WHERE member_id = $1")
            .bind(&going.id)
            .fetch_one(a.db.sql())
            .await?;
        ensure!(
            left == 0,
            "round {round}: a removed member kept {left} tokens"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_leak_report_to_either_instance_revokes_on_the_other_at_once() -> TestResult {
    let (a, b, m) = two_instances().await?;
    // Within the per-client limit on leak reports (on SQLite A and B are
    // one server, with one limit).
    for round in 0..8 {
        let (reporter, other) = if round % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let issued = a
            .issue(
                &m.admin,
                &format!("leaked {round}"),
                TokenKind::Service,
                TokenRole::Reader,
            )
            .await?;
        other.identity(&issued.secret).await?;
        reporter
            .call(reqwest::Method::POST, "credentials/revoke")
            .json(&json!({ "secrets": [issued.secret] }))
            .send()
            .await?
            .expect(StatusCode::ACCEPTED)?;
        other
            .get("caller-identity", &issued.secret)
            .await?
            .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")
            .map_err(|e| e.context(format!("round {round}: reported, still accepted")))?;
        ensure!(
            audit_count(&a, "token_revoked_leaked", &issued.token.id).await? == 1,
            "round {round}: the revocation is audited once"
        );
    }
    Ok(())
}

#[tokio::test]
async fn ending_a_grace_period_on_one_instance_refuses_the_old_secret_on_the_other() -> TestResult {
    let (a, b, m) = two_instances().await?;
    let admin = a
        .issue(&m.admin, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    let (old, id) = sid(&a
        .issue(&m.admin, "rotating", TokenKind::Service, TokenRole::Reader)
        .await?);
    let until = a.now_ms() + 3_600_000;
    let reset = a
        .post(&format!("tokens/{id}/reset?expiry={until}"), &admin.secret)
        .await?
        .expect(StatusCode::OK)?;
    let new = reset["token"].as_str().unwrap_or_default().to_string();
    b.identity(&old).await?;
    b.identity(&new).await?;
    // B's note of the old secret's use reaches A once B writes it.
    b.state.usage.flush(b.store()).await;
    let got = a
        .get(&format!("tokens/{id}"), &admin.secret)
        .await?
        .expect(StatusCode::OK)?;
    ensure!(
        got["oldSecretLastUsed"].is_i64(),
        "A sees the old secret in use: {got}"
    );
    let got = b
        .get(&format!("tokens/{id}"), &admin.secret)
        .await?
        .expect(StatusCode::OK)?;
    ensure!(
        got["oldSecretValidUntil"] == until,
        "B sees the grace period: {got}"
    );

    a.post(&format!("tokens/{id}/end-grace"), &admin.secret)
        .await?
        .expect(StatusCode::OK)?;
    b.get("caller-identity", &old)
        .await?
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;
    b.identity(&new).await?;
    let got = b
        .get(&format!("tokens/{id}"), &admin.secret)
        .await?
        .expect(StatusCode::OK)?;
    ensure!(
        got["oldSecretValidUntil"].is_null(),
        "B sees it ended: {got}"
    );
    // Ending it through B as well finds nothing left to end.
    b.post(&format!("tokens/{id}/end-grace"), &admin.secret)
        .await?
        .expect_error(StatusCode::CONFLICT, "conflict")?;
    ensure!(audit_count(&a, "token_grace_ended", &id).await? == 1);
    Ok(())
}
