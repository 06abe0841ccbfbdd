//! `GET /api/v2/auth/verify`, forward authentication for reverse proxies:
//! for every token state it decides exactly as `caller-identity` does, its
//! failures share the per-client throttle, a valid secret counts as used,
//! and nothing it answers may be cached.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, anyhow, ensure};
use latchkey::domain::MemberRole;
use latchkey::domain::secret::NewSecret;
use latchkey::domain::token::{TokenKind, TokenRole};
use latchkey::store::Member;
use reqwest::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};

use crate::api_helpers::{
    ApiApp, Members, Reply, caller, create_request, spawn_api, spawn_api_configured,
};
use crate::helpers::{PASSWORD_HASH, TestResult, browser_from};

const VERIFY: &str = "auth/verify";

/// How far the clock moves after every state has been set up: expiries and
/// grace periods set to end "soon" have ended by the checks, those set to
/// end "later" have not.
const SOON: Duration = Duration::from_secs(5);
const LATER: Duration = Duration::from_secs(3600);
const CLOCK_MOVES: Duration = Duration::from_secs(10);

/// What a secret in a state must get, from `caller-identity` and
/// `auth/verify` alike.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// 200, as a token of this kind acting with this role.
    Live(TokenKind, TokenRole),
    /// The one 401.
    Refused,
}
use Expect::{Live, Refused};
use TokenKind::{Personal, Service};
use TokenRole::{Admin, Reader, Writer};

type Secret<'a> = Pin<Box<dyn Future<Output = anyhow::Result<String>> + Send + 'a>>;

/// Produces a secret in some state (see the `Fixture` methods).
type Make = for<'a> fn(&'a Fixture) -> Secret<'a>;

/// Every token state this branch can produce, and the decision both
/// endpoints must make for it. A new state is one row here (with, if it
/// needs one, a `Fixture` method that produces it).
#[rustfmt::skip] // one state per line
const STATES: &[(&str, Expect, Make)] = &[
    ("personal reader", Live(Personal, Reader), |f| Box::pin(f.live(Personal, Reader))),
    ("personal writer", Live(Personal, Writer), |f| Box::pin(f.live(Personal, Writer))),
    ("personal admin", Live(Personal, Admin), |f| Box::pin(f.live(Personal, Admin))),
    ("service reader", Live(Service, Reader), |f| Box::pin(f.live(Service, Reader))),
    ("service writer", Live(Service, Writer), |f| Box::pin(f.live(Service, Writer))),
    ("service admin", Live(Service, Admin), |f| Box::pin(f.live(Service, Admin))),
    ("expires later", Live(Personal, Writer), |f| Box::pin(f.expiring(LATER))),
    ("expired", Refused, |f| Box::pin(f.expiring(SOON))),
    ("deleted", Refused, |f| Box::pin(f.deleted())),
    ("suspended", Refused, |f| Box::pin(f.suspended(false))),
    ("suspended, then resumed", Live(Service, Reader), |f| Box::pin(f.suspended(true))),
    ("new secret after a reset", Live(Service, Reader), |f| Box::pin(f.reset(Some(LATER), true))),
    ("old secret in its grace period", Live(Service, Reader), |f| Box::pin(f.reset(Some(LATER), false))),
    ("old secret after its grace period", Refused, |f| Box::pin(f.reset(Some(SOON), false))),
    ("old secret, reset immediately", Refused, |f| Box::pin(f.reset(None, false))),
    ("member demoted to Writer", Live(Personal, Writer), |f| Box::pin(f.member_now(Some(MemberRole::Writer)))),
    ("member demoted to Reader", Live(Personal, Reader), |f| Box::pin(f.member_now(Some(MemberRole::Reader)))),
    ("member set to No access", Refused, |f| Box::pin(f.member_now(Some(MemberRole::NoAccess)))),
    ("member removed", Refused, |f| Box::pin(f.member_now(None))),
    ("service token, creator has No access", Live(Service, Admin), |f| Box::pin(f.service_of_member_now(Some(MemberRole::NoAccess)))),
    ("service token, creator removed", Live(Service, Admin), |f| Box::pin(f.service_of_member_now(None))),
    ("unknown secret", Refused, |_| Box::pin(async { Ok(NewSecret::generate(Personal).into_exposed()) })),
    ("bad checksum", Refused, |f| Box::pin(f.mistyped())),
    ("not a secret", Refused, |_| Box::pin(async { Ok("hunter2".to_string()) })),
    ("empty", Refused, |_| Box::pin(async { Ok(String::new()) })),
];

/// The application and its team, for producing secrets in every state.
struct Fixture {
    app: ApiApp,
    m: Members,
    fresh: AtomicUsize,
}

impl Fixture {
    /// A live token of `kind` acting with `role`; personal tokens belong to
    /// the Owner, who may hold any role.
    async fn live(&self, kind: TokenKind, role: TokenRole) -> anyhow::Result<String> {
        let by = match kind {
            Personal => &self.m.owner,
            Service => &self.m.admin,
        };
        Ok(self.app.issue(by, "live", kind, role).await?.secret)
    }

    /// A personal Writer token that expires `after` from now.
    async fn expiring(&self, after: Duration) -> anyhow::Result<String> {
        let request = latchkey::tokens::CreateRequest {
            expires_at: Some(self.app.now_ms() + millis(after)),
            ..create_request("expiring", Personal, Writer)
        };
        Ok(self.app.issue_with(&self.m.writer, request).await?.secret)
    }

    async fn deleted(&self) -> anyhow::Result<String> {
        let issued = self
            .app
            .issue(&self.m.admin, "deleted", Service, Reader)
            .await?;
        latchkey::tokens::delete(self.app.store(), caller(&self.m.admin), &issued.token.id)
            .await
            .map_err(|e| anyhow!("deleting: {e:?}"))?;
        Ok(issued.secret)
    }

    /// A service Reader token suspended (and then resumed, if `resumed`).
    async fn suspended(&self, resumed: bool) -> anyhow::Result<String> {
        let issued = self
            .app
            .issue(&self.m.admin, "suspended", Service, Reader)
            .await?;
        let store = self.app.store();
        let id = &issued.token.id;
        latchkey::tokens::suspend(store, caller(&self.m.admin), id)
            .await
            .map_err(|e| anyhow!("suspending: {e:?}"))?;
        if resumed {
            latchkey::tokens::resume(store, caller(&self.m.admin), id)
                .await
                .map_err(|e| anyhow!("resuming: {e:?}"))?;
        }
        Ok(issued.secret)
    }

    /// A service Reader token reset with the old secret working for
    /// `grace` (or not at all): its new secret, or its old one.
    async fn reset(&self, grace: Option<Duration>, new: bool) -> anyhow::Result<String> {
        let old = self
            .app
            .issue(&self.m.admin, "reset", Service, Reader)
            .await?;
        let until = grace.map(|g| self.app.now_ms() + millis(g));
        let issued = latchkey::tokens::reset(
            self.app.store(),
            caller(&self.m.admin),
            &old.token.id,
            until,
        )
        .await
        .map_err(|e| anyhow!("resetting: {e:?}"))?;
        Ok(if new { issued.secret } else { old.secret })
    }

    /// A member of their own with an Admin role, as the command line adds one.
    async fn fresh_admin(&self) -> anyhow::Result<Member> {
        let n = self.fresh.fetch_add(1, Ordering::SeqCst);
        let email = format!("forward-auth-{n}@example.com");
        Ok(self
            .app
            .store()
            .create_member(&email, MemberRole::Admin, &PASSWORD_HASH, None)
            .await?)
    }

    /// Moves `member` to `role`, or removes them (`None`).
    async fn change(&self, member: &Member, role: Option<MemberRole>) -> anyhow::Result<()> {
        let store = self.app.store();
        match role {
            Some(role) => {
                store.set_member_role(&member.id, role, None).await?;
            }
            None => {
                store.remove_member(&member.id, None).await?;
            }
        }
        Ok(())
    }

    /// A personal Admin token of an Admin who is then moved to `role` or
    /// removed.
    async fn member_now(&self, role: Option<MemberRole>) -> anyhow::Result<String> {
        let member = self.fresh_admin().await?;
        let issued = self.app.issue(&member, "personal", Personal, Admin).await?;
        self.change(&member, role).await?;
        Ok(issued.secret)
    }

    /// A service Admin token made by an Admin who is then moved to `role`
    /// or removed.
    async fn service_of_member_now(&self, role: Option<MemberRole>) -> anyhow::Result<String> {
        let member = self.fresh_admin().await?;
        let issued = self.app.issue(&member, "service", Service, Admin).await?;
        self.change(&member, role).await?;
        Ok(issued.secret)
    }

    /// A live secret with one character changed (its checksum fails).
    async fn mistyped(&self) -> anyhow::Result<String> {
        let mut bytes = self.live(Personal, Reader).await?.into_bytes();
        bytes[12] = if bytes[12] == b'a' { b'b' } else { b'a' };
        Ok(String::from_utf8(bytes)?)
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

async fn verify(app: &ApiApp, secret: &str) -> anyhow::Result<Reply> {
    app.call(Method::GET, VERIFY).raw_auth(secret).send().await
}

fn no_store(reply: &Reply) -> bool {
    reply.header(CACHE_CONTROL.as_str()) == Some("no-store")
}

/// Checks one state: what the table expects, and that `auth/verify` says
/// the same as `caller-identity`.
async fn check(app: &ApiApp, what: &str, expect: Expect, secret: &str) -> TestResult {
    let identity = app
        .call(Method::GET, "caller-identity")
        .raw_auth(secret)
        .send()
        .await?;
    let verified = verify(app, secret).await?;
    ensure!(no_store(&verified), "{what}: verify without no-store");
    match expect {
        Live(kind, role) => {
            let id = identity.expect(StatusCode::OK)?;
            ensure!(
                verified.status == StatusCode::OK,
                "{what}: caller-identity accepts, verify answers {}: {}",
                verified.status,
                verified.text()
            );
            ensure!(
                verified.body.is_empty(),
                "{what}: body {:?}",
                verified.text()
            );
            ensure!(
                id["role"] == role.as_str(),
                "{what}: caller-identity says {id}"
            );
            ensure!(id["serviceToken"] == (kind == Service), "{what}: {id}");
            let member = match kind {
                Personal => id["memberId"].as_str().context("memberId")?,
                Service => "organization",
            };
            let expected = [
                (
                    "x-latchkey-token-id",
                    id["tokenId"].as_str().context("tokenId")?,
                ),
                ("x-latchkey-token-kind", kind.as_str()),
                ("x-latchkey-role", role.as_str()),
                ("x-latchkey-member", member),
            ];
            for (name, value) in expected {
                ensure!(
                    verified.header(name) == Some(value),
                    "{what}: {name} is {:?}, caller-identity says {value:?}",
                    verified.header(name)
                );
            }
        }
        Refused => {
            identity.expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;
            verified.expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;
            ensure!(
                verified.body == identity.body,
                "{what}: the 401 bodies differ"
            );
            let challenge = verified.header(WWW_AUTHENTICATE.as_str());
            ensure!(
                challenge.is_some() && challenge == identity.header(WWW_AUTHENTICATE.as_str()),
                "{what}: WWW-Authenticate {challenge:?} differs from caller-identity's"
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn verify_decides_as_caller_identity_does_for_every_token_state() -> TestResult {
    // The table's refusals must not run into the failure throttle.
    let (app, m) = spawn_api_configured(|c| c.api_auth_failures_per_minute = 10_000).await?;
    let fixture = Fixture {
        app,
        m,
        fresh: AtomicUsize::new(0),
    };
    let mut secrets = Vec::with_capacity(STATES.len());
    for (what, _, make) in STATES {
        secrets.push(
            make(&fixture)
                .await
                .with_context(|| format!("setting up {what}"))?,
        );
    }
    fixture.app.advance(CLOCK_MOVES);
    let mut failures = Vec::new();
    for ((what, expect, _), secret) in STATES.iter().zip(&secrets) {
        if let Err(e) = check(&fixture.app, what, *expect, secret).await {
            failures.push(format!("{e:#}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Without any Authorization header, and with the secret after Bearer.
    let reply = fixture.app.call(Method::GET, VERIFY).send().await?;
    reply.expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;
    assert!(no_store(&reply));
    let live = fixture.live(Service, Writer).await?;
    let reply = verify(&fixture.app, &format!("Bearer {live}")).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.header("x-latchkey-role"), Some("writer"));
    Ok(())
}

#[tokio::test]
async fn verify_failures_share_the_throttle_and_valid_secrets_pass_it() -> TestResult {
    let (app, m) = spawn_api().await?;
    let good = app.issue(&m.writer, "good", Personal, Writer).await?;
    let attacker = browser_from(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    let bystander = browser_from(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)));
    let bad = NewSecret::generate(Service).into_exposed();
    let limit = latchkey::config::DEFAULT_API_AUTH_FAILURES_PER_MINUTE;
    // The limit's failures, alternating between the two endpoints: one
    // count for both.
    for attempt in 1..=limit {
        let path = if attempt % 2 == 0 {
            VERIFY
        } else {
            "caller-identity"
        };
        app.call(Method::GET, path)
            .via(&attacker)
            .raw_auth(&bad)
            .send()
            .await?
            .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")
            .map_err(|e| e.context(format!("attempt {attempt} on {path}")))?;
    }
    for path in [VERIFY, "caller-identity"] {
        let reply = app
            .call(Method::GET, path)
            .via(&attacker)
            .raw_auth(&bad)
            .send()
            .await?;
        reply.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited")?;
        let wait: u64 = reply
            .header("retry-after")
            .ok_or_else(|| anyhow!("{path}: 429 without Retry-After"))?
            .parse()?;
        assert!((1..=60).contains(&wait), "Retry-After {wait}");
    }
    // A live secret from the same client is never throttled.
    let reply = app
        .call(Method::GET, VERIFY)
        .via(&attacker)
        .auth(&good.secret)
        .send()
        .await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        reply.header("x-latchkey-token-id"),
        Some(good.token.id.as_str())
    );
    // Another client is not affected.
    app.call(Method::GET, VERIFY)
        .via(&bystander)
        .raw_auth(&bad)
        .send()
        .await?
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;
    Ok(())
}

#[tokio::test]
async fn a_verified_secret_counts_as_used() -> TestResult {
    let (app, m) = spawn_api().await?;
    let issued = app
        .issue(&m.reader, "behind a proxy", Personal, Reader)
        .await?;
    let before = app.now_ms();
    let reply = verify(&app, &issued.secret).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let after = app.now_ms();
    app.state.usage.flush(app.store()).await;
    let token = app
        .store()
        .find_token(&issued.token.id)
        .await?
        .context("the token is gone")?;
    let used = token
        .last_used_at
        .ok_or_else(|| anyhow!("a verified secret left \"last used\" empty"))?;
    assert!(
        (before..=after).contains(&used),
        "last used {used} not in [{before}, {after}]"
    );
    Ok(())
}
